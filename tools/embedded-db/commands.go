// The commands this server answers, one function each, in one table.
package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// request is one command: its database, its body, and the document
// sequences of its OP_MSG (e.g. "documents" of an insert).
type request struct {
	db      string
	cmd     bsoncore.Document
	name    string
	seqs    map[string][]bsoncore.Document
	conn    *conn
	started time.Time
}

func (r *request) arg(name string) bsoncore.Value { return r.cmd.Lookup(name) }

// list reads an array argument, or the document sequence of that name.
func (r *request) list(name string) ([]bsoncore.Document, error) {
	if docs, ok := r.seqs[name]; ok {
		return docs, nil
	}
	v, err := r.cmd.LookupErr(name)
	if err != nil {
		return nil, nil
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, errorf(14, "TypeMismatch", "'%s' must be an array", name)
	}
	vals, _ := arr.Values()
	out := make([]bsoncore.Document, 0, len(vals))
	for _, v := range vals {
		d, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "TypeMismatch", "every element of '%s' must be a document", name)
		}
		out = append(out, d)
	}
	return out, nil
}

// collName is the collection a command names in its first field.
func (r *request) collName() (string, error) {
	s, ok := r.cmd.Lookup(r.name).StringValueOK()
	if !ok || !validCollName(s) {
		return "", errorf(73, "InvalidNamespace", "collection name must be a non-empty string")
	}
	return s, nil
}

func (r *request) docArg(name string) (bsoncore.Document, error) {
	v, err := r.cmd.LookupErr(name)
	if err != nil || v.Type == bsoncore.TypeNull {
		return nil, nil
	}
	d, ok := v.DocumentOK()
	if !ok {
		return nil, errorf(14, "TypeMismatch", "'%s' must be a document", name)
	}
	return d, nil
}

func (r *request) intArg(name string) (int64, error) {
	v, err := r.cmd.LookupErr(name)
	if err != nil || v.Type == bsoncore.TypeNull {
		return 0, nil
	}
	i, ok := integer(v)
	if !ok {
		return 0, errorf(14, "TypeMismatch", "'%s' must be a number", name)
	}
	return i, nil
}

type handler func(ctx context.Context, s *server, r *request) (bsoncore.Document, error)

var commands map[string]handler

func init() {
	commands = map[string]handler{
		"hello": cmdHello, "isMaster": cmdHello, "ismaster": cmdHello,
		"ping": cmdOK, "endSessions": cmdOK, "killAllSessions": cmdOK, "killSessions": cmdOK,
		"buildInfo": cmdBuildInfo, "buildinfo": cmdBuildInfo,
		"getLastError": cmdGetLastError, "getParameter": cmdGetParameter, "getCmdLineOpts": cmdGetCmdLineOpts,
		"whatsmyuri": cmdWhatsMyURI, "connectionStatus": cmdConnectionStatus, "serverStatus": cmdServerStatus,
		"hostInfo": cmdHostInfo, "getLog": cmdGetLog,
		"listDatabases": cmdListDatabases, "listCollections": cmdListCollections, "create": cmdCreate,
		"drop": cmdDrop, "dropDatabase": cmdDropDatabase,
		"createIndexes": cmdCreateIndexes, "listIndexes": cmdListIndexes, "dropIndexes": cmdDropIndexes,
		"deleteIndexes": cmdDropIndexes,
		"insert":        cmdInsert, "update": cmdUpdate, "delete": cmdDelete, "findAndModify": cmdFindAndModify,
		"findandmodify": cmdFindAndModify,
		"find":          cmdFind, "getMore": cmdGetMore, "killCursors": cmdKillCursors, "count": cmdCount,
		"distinct": cmdDistinct, "aggregate": cmdAggregate, "explain": cmdExplain, "profile": cmdProfile,
		"collStats": cmdCollStats, "dbStats": cmdDBStats,
	}
}

// okDoc builds a reply: the given fields, then ok: 1.
func okDoc(kv ...any) bsoncore.Document {
	return buildDoc(append(kv, "ok", vDouble(1))...)
}

func cmdOK(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc(), nil
}

func cmdHello(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	primary := "isWritablePrimary"
	if r.name != "hello" {
		primary = "ismaster"
	}
	return okDoc(
		"helloOk", vBool(true),
		primary, vBool(true),
		"maxBsonObjectSize", vInt32(16*1024*1024),
		"maxMessageSizeBytes", vInt32(48000000),
		"maxWriteBatchSize", vInt32(100000),
		"localTime", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())},
		"connectionId", vInt32(r.conn.id),
		"minWireVersion", vInt32(0),
		"maxWireVersion", vInt32(17),
		"readOnly", vBool(false),
	), nil
}

func cmdBuildInfo(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc(
		"version", vString("6.0.0"),
		"gitVersion", vString("roost-embedded-db"),
		"versionArray", vArray([]bsoncore.Value{vInt32(6), vInt32(0), vInt32(0), vInt32(0)}),
		"bits", vInt32(64),
		"maxBsonObjectSize", vInt32(16*1024*1024),
		"storageEngines", vArray([]bsoncore.Value{vString("sqlite")}),
	), nil
}

func cmdGetLastError(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc("err", vNull(), "n", vInt32(0)), nil
}

func cmdGetParameter(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	if v, err := r.cmd.LookupErr("featureCompatibilityVersion"); err == nil && truthy(v) {
		return okDoc("featureCompatibilityVersion", vDoc(buildDoc("version", vString("6.0")))), nil
	}
	return okDoc(), nil
}

func cmdGetCmdLineOpts(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc("argv", vArray(nil), "parsed", vDoc(buildDoc())), nil
}

func cmdWhatsMyURI(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc("you", vString(r.conn.remote)), nil
}

func cmdConnectionStatus(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc("authInfo", vDoc(buildDoc("authenticatedUsers", vArray(nil), "authenticatedUserRoles", vArray(nil)))), nil
}

func cmdServerStatus(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	host, _ := os.Hostname()
	return okDoc(
		"host", vString(host), "version", vString("6.0.0"), "process", vString("roost-embedded-db"),
		"pid", vInt64(int64(os.Getpid())), "uptime", vDouble(time.Since(s.started).Seconds()),
		"localTime", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())},
		"connections", vDoc(buildDoc("current", vInt32(s.connections.Load()))),
	), nil
}

func cmdHostInfo(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	host, _ := os.Hostname()
	return okDoc("system", vDoc(buildDoc("hostname", vString(host)))), nil
}

func cmdGetLog(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	return okDoc("totalLinesWritten", vInt32(0), "log", vArray(nil)), nil
}

// --- databases and collections ----------------------------------------------------

func cmdListDatabases(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	var dbs []bsoncore.Value
	var total int64
	for _, name := range s.store.names() {
		var size int64
		if st, err := os.Stat(s.store.path(name)); err == nil {
			size = st.Size()
		}
		total += size
		dbs = append(dbs, vDoc(buildDoc("name", vString(name), "sizeOnDisk", vInt64(size), "empty", vBool(size == 0))))
	}
	return okDoc("databases", vArray(dbs), "totalSize", vInt64(total)), nil
}

func cmdListCollections(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	filter, err := r.docArg("filter")
	if err != nil {
		return nil, err
	}
	match, err := compileFilter(filter)
	if err != nil {
		return nil, err
	}
	db, err := s.store.db(r.db, false)
	if err != nil {
		return nil, err
	}
	var docs []bsoncore.Document
	if db != nil {
		db.mu.RLock()
		for name := range db.colls {
			if strings.HasPrefix(name, "system.") && name != "system.profile" {
				continue
			}
			d := buildDoc("name", vString(name), "type", vString("collection"), "options", vDoc(buildDoc()),
				"info", vDoc(buildDoc("readOnly", vBool(false))), "idIndex", vDoc(idIndexSpec()))
			if match.match(d) {
				docs = append(docs, d)
			}
		}
		db.mu.RUnlock()
	}
	return s.cursorReply(r, r.db+".$cmd.listCollections", docs, 0, false)
}

func cmdCreate(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	if truthy(r.arg("capped")) || !missing(r.arg("viewOn")) || !missing(r.arg("timeseries")) {
		return nil, notSupported("capped collections, views and time series")
	}
	db, err := s.store.db(r.db, true)
	if err != nil {
		return nil, err
	}
	if db.collection(name) != nil {
		return nil, errorf(48, "NamespaceExists", "Collection %s.%s already exists", r.db, name)
	}
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		_, err := db.createCollection(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return okDoc(), nil
}

func cmdDrop(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errorf(26, "NamespaceNotFound", "ns not found")
	}
	err = db.inWrite(ctx, func(tx *sql.Tx) error { return db.dropCollection(ctx, tx, c) })
	if err != nil {
		return nil, err
	}
	db.forgetCollection(name)
	s.cursors.dropNamespace(r.db + "." + name)
	return okDoc("ns", vString(r.db+"."+name), "nIndexesWas", vInt32(int32(len(c.indexes)+1))), nil
}

func cmdDropDatabase(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	if err := s.store.drop(r.db); err != nil {
		return nil, err
	}
	s.cursors.dropNamespace(r.db + ".")
	return okDoc("dropped", vString(r.db)), nil
}

// --- indexes ------------------------------------------------------------------------

func cmdCreateIndexes(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	specs, err := r.list("indexes")
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, badValue("must specify at least one index")
	}
	var indexes []*index
	for _, spec := range specs {
		ix, err := parseIndexSpec(spec)
		if err != nil {
			return nil, err
		}
		indexes = append(indexes, ix)
	}
	db, err := s.store.db(r.db, true)
	if err != nil {
		return nil, err
	}
	var before, after int
	createdCollection := db.collection(name) == nil
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.createCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		before = len(c.indexes) + 1
		for _, ix := range indexes {
			if _, err := db.createIndex(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		after = len(c.indexes) + 1
		return nil
	})
	if err != nil {
		return nil, err
	}
	return okDoc("createdCollectionAutomatically", vBool(createdCollection), "numIndexesBefore", vInt32(int32(before)),
		"numIndexesAfter", vInt32(int32(after))), nil
}

// existing finds the collection a command names: db and c are nil when the
// database or the collection does not exist (not an error: each command
// answers that its own way).
func (s *server) existing(r *request) (name string, db *database, c *collection, err error) {
	if name, err = r.collName(); err != nil {
		return "", nil, nil, err
	}
	db, c, err = s.lookup(r.db, name)
	return name, db, c, err
}

// lookup is existing for a collection named some other way.
func (s *server) lookup(dbName, name string) (*database, *collection, error) {
	db, err := s.store.db(dbName, false)
	if err != nil || db == nil {
		return nil, nil, err
	}
	return db, db.collection(name), nil
}

func cmdListIndexes(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errorf(26, "NamespaceNotFound", "ns does not exist: %s.%s", r.db, name)
	}
	docs := []bsoncore.Document{idIndexSpec()}
	db.mu.RLock()
	for _, ix := range c.indexes {
		docs = append(docs, ix.spec)
	}
	db.mu.RUnlock()
	return s.cursorReply(r, r.db+"."+name, docs, 0, false)
}

func cmdDropIndexes(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errorf(26, "NamespaceNotFound", "ns not found %s.%s", r.db, name)
	}
	var names []string
	switch v := r.arg("index"); v.Type {
	case bsoncore.TypeString:
		if v.StringValue() == "*" {
			for _, ix := range c.indexes {
				names = append(names, ix.name)
			}
		} else {
			names = []string{v.StringValue()}
		}
	case bsoncore.TypeArray:
		vals, _ := v.Array().Values()
		for _, x := range vals {
			n, _ := x.StringValueOK()
			names = append(names, n)
		}
	case bsoncore.TypeEmbeddedDocument:
		want, err := parseIndexSpec(buildDoc("key", v, "name", vString("?")))
		if err != nil {
			return nil, err
		}
		for _, ix := range c.indexes {
			if sameKeys(ix, want) {
				names = append(names, ix.name)
			}
		}
		if len(names) == 0 {
			return nil, errorf(27, "IndexNotFound", "can't find index with key: %s", v.String())
		}
	default:
		return nil, badValue("'index' must be a name, a list of names or a key pattern")
	}
	was := len(c.indexes) + 1
	for _, n := range names {
		if n == "_id_" {
			return nil, errorf(72, "InvalidOptions", "cannot drop _id index")
		}
	}
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		for _, n := range names {
			if err := db.dropIndex(ctx, tx, c, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return okDoc("nIndexesWas", vInt32(int32(was))), nil
}

// --- writes -------------------------------------------------------------------------

// writeErrors collects the per-statement failures of a write command;
// other errors stop the command.
type writeErrors struct {
	list []bsoncore.Value
}

func (w *writeErrors) add(index int, err error) error {
	var ce *cmdError
	if !errors.As(err, &ce) {
		return err
	}
	w.list = append(w.list, vDoc(buildDoc("index", vInt32(int32(index)), "code", vInt32(ce.code),
		"errmsg", vString(ce.msg))))
	return nil
}

func (w *writeErrors) reply(kv ...any) bsoncore.Document {
	if len(w.list) > 0 {
		kv = append(kv, "writeErrors", vArray(w.list))
	}
	return okDoc(kv...)
}

// ordered reads the "ordered" flag (default true).
func (r *request) ordered() bool {
	v, err := r.cmd.LookupErr("ordered")
	return err != nil || truthy(v)
}

// writeTarget reads what every write command starts with: the collection's
// name, the list of documents or statements, and the database (created for
// insert and update; nil for a delete in a database that does not exist).
func (s *server) writeTarget(r *request, list string, create bool) (name string, items []bsoncore.Document, db *database, err error) {
	if name, err = r.collName(); err != nil {
		return "", nil, nil, err
	}
	if items, err = r.list(list); err != nil {
		return "", nil, nil, err
	}
	db, err = s.store.db(r.db, create)
	return name, items, db, err
}

func cmdInsert(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, docs, db, err := s.writeTarget(r, "documents", true)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	n := 0
	ordered := r.ordered()
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.createCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		for i, doc := range docs {
			prepared, err := prepareInsert(doc)
			if err == nil {
				var fatal error
				err, fatal = db.atSavepoint(ctx, tx, func() error { return db.insertDoc(ctx, tx, c, prepared) })
				if fatal != nil {
					return fatal
				}
			}
			if err != nil {
				if err := werr.add(i, err); err != nil {
					return err
				}
				if ordered {
					break
				}
				continue
			}
			n++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, int64(n))
	return werr.reply("n", vInt32(int32(n))), nil
}

func cmdUpdate(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, stmts, db, err := s.writeTarget(r, "updates", true)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	var matched, modified int64
	var upserted []bsoncore.Value
	ordered := r.ordered()
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.createCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		for i, st := range stmts {
			var m, mod int64
			var id bsoncore.Value
			err, fatal := db.atSavepoint(ctx, tx, func() (err error) {
				m, mod, id, err = db.updateOne(ctx, tx, c, st)
				return err
			})
			if fatal != nil {
				return fatal
			}
			if err != nil {
				if err := werr.add(i, err); err != nil {
					return err
				}
				if ordered {
					break
				}
				continue
			}
			matched += m
			modified += mod
			if !missing(id) {
				upserted = append(upserted, vDoc(buildDoc("index", vInt32(int32(i)), "_id", id)))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, matched)
	kv := []any{"n", vInt32(int32(matched + int64(len(upserted)))), "nModified", vInt32(int32(modified))}
	if len(upserted) > 0 {
		kv = append(kv, "upserted", vArray(upserted))
	}
	return werr.reply(kv...), nil
}

// updateOne runs one update statement {q, u, upsert, multi}: how many
// documents matched and changed, and the _id of an upserted one.
func (db *database) updateOne(ctx context.Context, tx *sql.Tx, c *collection, st bsoncore.Document) (int64, int64, bsoncore.Value, error) {
	q, _ := st.Lookup("q").DocumentOK()
	uv := st.Lookup("u")
	if uv.Type == bsoncore.TypeArray {
		return 0, 0, bsoncore.Value{}, notSupported("pipeline-style updates")
	}
	u, ok := uv.DocumentOK()
	if !ok {
		return 0, 0, bsoncore.Value{}, errorf(9, "FailedToParse", "update must be a document")
	}
	if !missing(st.Lookup("arrayFilters")) {
		return 0, 0, bsoncore.Value{}, notSupported("arrayFilters")
	}
	filter, err := compileFilter(q)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	multi := truthy(st.Lookup("multi"))
	if multi && isReplacement(u) {
		return 0, 0, bsoncore.Value{}, errorf(9, "FailedToParse", "multi update is not supported for replacement-style update")
	}
	limit := int64(1)
	if multi {
		limit = 0
	}
	rows, err := db.selectRows(ctx, tx, c, filter, nil, limit)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	var modified int64
	for _, row := range rows {
		next, err := updatedDoc(row.doc, u, false)
		if err != nil {
			return 0, 0, bsoncore.Value{}, err
		}
		if string(next) == string(row.doc) {
			continue
		}
		if err := db.replaceRow(ctx, tx, c, row, next); err != nil {
			return 0, 0, bsoncore.Value{}, err
		}
		modified++
	}
	if len(rows) > 0 || !truthy(st.Lookup("upsert")) {
		return int64(len(rows)), modified, bsoncore.Value{}, nil
	}
	doc, err := upsertDoc(q, u)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	if err := db.insertDoc(ctx, tx, c, doc); err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	return 0, 0, doc.Lookup("_id"), nil
}

func updatedDoc(old, u bsoncore.Document, inserting bool) (bsoncore.Document, error) {
	if isReplacement(u) {
		return replaceDoc(old, u)
	}
	return applyUpdate(old, u, inserting)
}

// upsertDoc builds the document an upsert inserts.
func upsertDoc(q, u bsoncore.Document) (bsoncore.Document, error) {
	seed, err := upsertSeed(q)
	if err != nil {
		return nil, err
	}
	base, err := fromD(seed)
	if err != nil {
		return nil, err
	}
	doc, err := updatedDoc(base, u, true)
	if err != nil {
		return nil, err
	}
	if isReplacement(u) {
		if id := base.Lookup("_id"); !missing(id) && missing(doc.Lookup("_id")) {
			doc, _ = replaceDoc(buildDoc("_id", id), doc)
		}
	}
	return prepareInsert(doc)
}

func cmdDelete(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, stmts, db, err := s.writeTarget(r, "deletes", false)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	var n int64
	if db == nil || db.collection(name) == nil {
		return werr.reply("n", vInt32(0)), nil
	}
	ordered := r.ordered()
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c := db.collection(name)
		if c == nil {
			return nil
		}
		for i, st := range stmts {
			q, _ := st.Lookup("q").DocumentOK()
			filter, err := compileFilter(q)
			if err == nil {
				limit, _ := integer(st.Lookup("limit"))
				var rows []storedRow
				rows, err = db.selectRows(ctx, tx, c, filter, nil, limit)
				for _, row := range rows {
					if err == nil {
						err = db.deleteRow(ctx, tx, c, row)
					}
				}
				if err == nil {
					n += int64(len(rows))
				}
			}
			if err != nil {
				if err := werr.add(i, err); err != nil {
					return err
				}
				if ordered {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, n)
	return werr.reply("n", vInt32(int32(n))), nil
}

func cmdFindAndModify(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	q, err := r.docArg("query")
	if err != nil {
		return nil, err
	}
	filter, err := compileFilter(q)
	if err != nil {
		return nil, err
	}
	sortSpec, err := r.docArg("sort")
	if err != nil {
		return nil, err
	}
	keys, _, err := parseSort(sortSpec)
	if err != nil {
		return nil, err
	}
	fields, err := r.docArg("fields")
	if err != nil {
		return nil, err
	}
	proj, err := parseProjection(fields)
	if err != nil {
		return nil, err
	}
	remove := truthy(r.arg("remove"))
	u, _ := r.arg("update").DocumentOK()
	if r.arg("update").Type == bsoncore.TypeArray {
		return nil, notSupported("pipeline-style updates")
	}
	if remove == (u != nil) {
		return nil, errorf(9, "FailedToParse", "either an update or remove=true must be specified")
	}
	returnNew, upsert := truthy(r.arg("new")), truthy(r.arg("upsert"))
	db, err := s.store.db(r.db, true)
	if err != nil {
		return nil, err
	}
	var value bsoncore.Value = vNull()
	var last []any
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.createCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		rows, err := db.selectRows(ctx, tx, c, filter, keys, 1)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			if remove || !upsert {
				last = []any{"n", vInt32(0), "updatedExisting", vBool(false)}
				return nil
			}
			doc, err := upsertDoc(q, u)
			if err != nil {
				return err
			}
			if err := db.insertDoc(ctx, tx, c, doc); err != nil {
				return err
			}
			if returnNew {
				value = vDoc(proj.apply(doc))
			}
			last = []any{"n", vInt32(1), "updatedExisting", vBool(false), "upserted", doc.Lookup("_id")}
			return nil
		}
		row := rows[0]
		if remove {
			if err := db.deleteRow(ctx, tx, c, row); err != nil {
				return err
			}
			value = vDoc(proj.apply(row.doc))
			last = []any{"n", vInt32(1)}
			return nil
		}
		next, err := updatedDoc(row.doc, u, false)
		if err != nil {
			return err
		}
		if err := db.replaceRow(ctx, tx, c, row, next); err != nil {
			return err
		}
		if returnNew {
			value = vDoc(proj.apply(next))
		} else {
			value = vDoc(proj.apply(row.doc))
		}
		last = []any{"n", vInt32(1), "updatedExisting", vBool(true)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, 1)
	return okDoc("lastErrorObject", vDoc(buildDoc(last...)), "value", value), nil
}

// --- reads --------------------------------------------------------------------------

// findSpec reads the filter, sort, skip and limit of a find or a count.
func findSpec(r *request, filterName string) (readSpec, error) {
	var rs readSpec
	q, err := r.docArg(filterName)
	if err != nil {
		return rs, err
	}
	if rs.filter, err = compileFilter(q); err != nil {
		return rs, err
	}
	rs.filterKey = string(emptyDoc)
	if q != nil {
		rs.filterKey = string(q)
	}
	sortSpec, err := r.docArg("sort")
	if err != nil {
		return rs, err
	}
	if rs.sort, _, err = parseSort(sortSpec); err != nil {
		return rs, err
	}
	if rs.skip, err = r.intArg("skip"); err != nil {
		return rs, err
	}
	if rs.skip < 0 {
		return rs, badValue("skip value must be non-negative, but received: %d", rs.skip)
	}
	if rs.limit, err = r.intArg("limit"); err != nil {
		return rs, err
	}
	return rs, nil
}

func cmdFind(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	rs, err := findSpec(r, "filter")
	if err != nil {
		return nil, err
	}
	single := truthy(r.arg("singleBatch"))
	if rs.limit < 0 {
		rs.limit, single = -rs.limit, true
	}
	projSpec, err := r.docArg("projection")
	if err != nil {
		return nil, err
	}
	proj, err := parseProjection(projSpec)
	if err != nil {
		return nil, err
	}
	batch, err := r.intArg("batchSize")
	if err != nil {
		return nil, err
	}
	if batch < 0 {
		return nil, badValue("batchSize must be non-negative")
	}
	db, err := s.store.db(r.db, false)
	if err != nil {
		return nil, err
	}
	var c *collection
	if db != nil {
		c = db.collection(name)
	}
	res := &readResult{}
	rs.idOnly = proj.onlyID()
	if c != nil {
		if res, err = db.read(ctx, nil, c, rs); err != nil {
			return nil, err
		}
	}
	docs := res.docs
	if proj != nil {
		for i := range docs {
			docs[i] = proj.apply(docs[i])
		}
	}
	if db != nil {
		s.profile(ctx, db, r, res, int64(len(docs)))
	}
	return s.cursorReply(r, r.db+"."+name, docs, batch, single)
}

func cmdCount(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	rs, err := findSpec(r, "query")
	if err != nil {
		return nil, err
	}
	if rs.limit < 0 {
		rs.limit = -rs.limit
	}
	db, err := s.store.db(r.db, false)
	if err != nil || db == nil {
		return okDoc("n", vInt32(0)), err
	}
	n, res, err := db.count(ctx, nil, db.collection(name), rs)
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, res, 1)
	return okDoc("n", vInt64(n)), nil
}

func cmdDistinct(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	key, ok := r.arg("key").StringValueOK()
	if !ok || key == "" {
		return nil, errorf(14, "TypeMismatch", "'key' must be a non-empty string")
	}
	rs, err := findSpec(r, "query")
	if err != nil {
		return nil, err
	}
	db, err := s.store.db(r.db, false)
	if err != nil {
		return nil, err
	}
	var values []bsoncore.Value
	if db != nil {
		res, err := db.read(ctx, nil, db.collection(name), readSpec{filter: rs.filter})
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		parts := splitPath(key)
		for _, d := range res.docs {
			for _, v := range lookup(d, parts) {
				vals := []bsoncore.Value{v}
				if v.Type == bsoncore.TypeArray {
					vals, _ = v.Array().Values()
				}
				for _, x := range vals {
					if missing(x) {
						continue
					}
					k := string(keyOf(x))
					if !seen[k] {
						seen[k] = true
						values = append(values, x)
					}
				}
			}
		}
		sortValues(values)
	}
	return okDoc("values", vArray(values)), nil
}

// --- cursors ------------------------------------------------------------------------

func cmdGetMore(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	id, ok := integer(r.arg("getMore"))
	if !ok {
		return nil, errorf(14, "TypeMismatch", "getMore needs a cursor id")
	}
	batch, err := r.intArg("batchSize")
	if err != nil {
		return nil, err
	}
	cur := s.cursors.take(id)
	if cur == nil {
		return nil, errorf(43, "CursorNotFound", "cursor id %d not found", id)
	}
	docs, rest := splitBatch(cur.docs, batch)
	nextID := int64(0)
	if len(rest) > 0 {
		cur.docs = rest
		nextID = s.cursors.put(cur)
	}
	return okDoc("cursor", vDoc(buildDoc("nextBatch", docArray(docs), "id", vInt64(nextID), "ns", vString(cur.ns)))), nil
}

func cmdKillCursors(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	vals, _ := r.arg("cursors").Array().Values()
	var killed, notFound []bsoncore.Value
	for _, v := range vals {
		id, _ := integer(v)
		if s.cursors.take(id) != nil {
			killed = append(killed, vInt64(id))
		} else {
			notFound = append(notFound, vInt64(id))
		}
	}
	return okDoc("cursorsKilled", vArray(killed), "cursorsNotFound", vArray(notFound), "cursorsAlive", vArray(nil),
		"cursorsUnknown", vArray(nil)), nil
}

// --- statistics and the profiler ------------------------------------------------------

func cmdCollStats(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	db, err := s.store.db(r.db, false)
	if err != nil {
		return nil, err
	}
	var n int64
	nindexes := 1
	if db != nil {
		if c := db.collection(name); c != nil {
			n, _, err = db.count(ctx, nil, c, readSpec{filter: trueNode{}})
			if err != nil {
				return nil, err
			}
			nindexes += len(c.indexes)
		}
	}
	return okDoc("ns", vString(r.db+"."+name), "count", vInt64(n), "nindexes", vInt32(int32(nindexes))), nil
}

func cmdDBStats(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	db, err := s.store.db(r.db, false)
	if err != nil {
		return nil, err
	}
	colls := 0
	if db != nil {
		db.mu.RLock()
		colls = len(db.colls)
		db.mu.RUnlock()
	}
	return okDoc("db", vString(r.db), "collections", vInt32(int32(colls))), nil
}

func cmdProfile(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	level, ok := integer(r.arg("profile"))
	if !ok || level < -1 || level > 2 {
		return nil, badValue("profile level must be -1, 0, 1 or 2")
	}
	db, err := s.store.db(r.db, true)
	if err != nil {
		return nil, err
	}
	db.profileMu.Lock()
	was := db.profileLevel
	if level >= 0 {
		db.profileLevel = int32(level)
	}
	db.profileMu.Unlock()
	return okDoc("was", vInt32(was), "slowms", vInt32(100), "sampleRate", vDouble(1)), nil
}

// sortValues orders distinct values as MongoDB does.
func sortValues(vals []bsoncore.Value) {
	docs := make([]bsoncore.Document, len(vals))
	for i, v := range vals {
		docs[i] = buildDoc("v", v)
	}
	sortDocs(docs, []sortKey{{path: "v", parts: []string{"v"}, dir: 1}})
	for i, d := range docs {
		vals[i] = d.Lookup("v")
	}
}

var _ = bson.TypeNull
