// The commands this server answers, one function each, in one table.
package handler

import (
	"context"
	"database/sql"
	"os"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
	"roost.local/embedded-db/internal/wire"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// request is one command: its database, its body, and the document
// sequences of its OP_MSG (e.g. "documents" of an insert).
type request struct {
	db      string
	cmd     bsoncore.Document
	name    string
	seqs    map[string][]bsoncore.Document
	conn    *wire.Conn
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
		return nil, query.Errorf(14, "TypeMismatch", "'%s' must be an array", name)
	}
	vals, _ := arr.Values()
	out := make([]bsoncore.Document, 0, len(vals))
	for _, v := range vals {
		d, ok := v.DocumentOK()
		if !ok {
			return nil, query.Errorf(14, "TypeMismatch", "every element of '%s' must be a document", name)
		}
		out = append(out, d)
	}
	return out, nil
}

// collName is the collection a command names in its first field.
func (r *request) collName() (string, error) {
	s, ok := r.cmd.Lookup(r.name).StringValueOK()
	if !ok || !storage.ValidCollName(s) {
		return "", query.Errorf(73, "InvalidNamespace", "collection name must be a non-empty string")
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
		return nil, query.Errorf(14, "TypeMismatch", "'%s' must be a document", name)
	}
	return d, nil
}

func (r *request) intArg(name string) (int64, error) {
	v, err := r.cmd.LookupErr(name)
	if err != nil || v.Type == bsoncore.TypeNull {
		return 0, nil
	}
	i, ok := query.Integer(v)
	if !ok {
		return 0, query.Errorf(14, "TypeMismatch", "'%s' must be a number", name)
	}
	return i, nil
}

type handler func(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error)

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
	return query.BuildDoc(append(kv, "ok", query.VDouble(1))...)
}

func cmdOK(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc(), nil
}

func cmdHello(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	primary := "isWritablePrimary"
	if r.name != "hello" {
		primary = "ismaster"
	}
	return okDoc(
		"helloOk", query.VBool(true),
		primary, query.VBool(true),
		"maxBsonObjectSize", query.VInt32(16*1024*1024),
		"maxMessageSizeBytes", query.VInt32(48000000),
		"maxWriteBatchSize", query.VInt32(100000),
		"localTime", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())},
		"connectionId", query.VInt32(r.conn.ID),
		"minWireVersion", query.VInt32(0),
		"maxWireVersion", query.VInt32(17),
		"readOnly", query.VBool(false),
	), nil
}

func cmdBuildInfo(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc(
		"version", query.VString("6.0.0"),
		"gitVersion", query.VString("roost-embedded-db"),
		"versionArray", query.VArray([]bsoncore.Value{query.VInt32(6), query.VInt32(0), query.VInt32(0), query.VInt32(0)}),
		"bits", query.VInt32(64),
		"maxBsonObjectSize", query.VInt32(16*1024*1024),
		"storageEngines", query.VArray([]bsoncore.Value{query.VString("sqlite")}),
	), nil
}

func cmdGetLastError(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc("err", query.VNull(), "n", query.VInt32(0)), nil
}

func cmdGetParameter(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	if v, err := r.cmd.LookupErr("featureCompatibilityVersion"); err == nil && query.Truthy(v) {
		return okDoc("featureCompatibilityVersion", query.VDoc(query.BuildDoc("version", query.VString("6.0")))), nil
	}
	return okDoc(), nil
}

func cmdGetCmdLineOpts(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc("argv", query.VArray(nil), "parsed", query.VDoc(query.BuildDoc())), nil
}

func cmdWhatsMyURI(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc("you", query.VString(r.conn.Remote)), nil
}

func cmdConnectionStatus(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc("authInfo", query.VDoc(query.BuildDoc("authenticatedUsers", query.VArray(nil), "authenticatedUserRoles", query.VArray(nil)))), nil
}

func cmdServerStatus(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	host, _ := os.Hostname()
	return okDoc(
		"host", query.VString(host), "version", query.VString("6.0.0"), "process", query.VString("roost-embedded-db"),
		"pid", query.VInt64(int64(os.Getpid())), "uptime", query.VDouble(time.Since(s.started).Seconds()),
		"localTime", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())},
		"connections", query.VDoc(query.BuildDoc("current", query.VInt32(s.Connections()))),
	), nil
}

func cmdHostInfo(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	host, _ := os.Hostname()
	return okDoc("system", query.VDoc(query.BuildDoc("hostname", query.VString(host)))), nil
}

func cmdGetLog(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	return okDoc("totalLinesWritten", query.VInt32(0), "log", query.VArray(nil)), nil
}

// --- databases and collections ----------------------------------------------------

func cmdListDatabases(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	var dbs []bsoncore.Value
	var total int64
	for _, name := range s.store.Names() {
		var size int64
		if st, err := os.Stat(s.store.Path(name)); err == nil {
			size = st.Size()
		}
		total += size
		dbs = append(dbs, query.VDoc(query.BuildDoc("name", query.VString(name), "sizeOnDisk", query.VInt64(size), "empty", query.VBool(size == 0))))
	}
	return okDoc("databases", query.VArray(dbs), "totalSize", query.VInt64(total)), nil
}

func cmdListCollections(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	filter, err := r.docArg("filter")
	if err != nil {
		return nil, err
	}
	match, err := query.CompileFilter(filter)
	if err != nil {
		return nil, err
	}
	db, err := s.store.Database(r.db, false)
	if err != nil {
		return nil, err
	}
	var docs []bsoncore.Document
	if db != nil {
		db.Mu.RLock()
		for name := range db.Colls {
			if strings.HasPrefix(name, "system.") && name != "system.profile" {
				continue
			}
			d := query.BuildDoc("name", query.VString(name), "type", query.VString("collection"), "options", query.VDoc(query.BuildDoc()),
				"info", query.VDoc(query.BuildDoc("readOnly", query.VBool(false))), "idIndex", query.VDoc(storage.IDIndexSpec()))
			if match.Match(d) {
				docs = append(docs, d)
			}
		}
		db.Mu.RUnlock()
	}
	return s.cursorReply(r, r.db+".$cmd.listCollections", docs, 0, false)
}

func cmdCreate(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	if query.Truthy(r.arg("capped")) || !query.Missing(r.arg("viewOn")) || !query.Missing(r.arg("timeseries")) {
		return nil, query.NotSupported("capped collections, views and time series")
	}
	db, err := s.store.Database(r.db, true)
	if err != nil {
		return nil, err
	}
	if db.Collection(name) != nil {
		return nil, query.Errorf(48, "NamespaceExists", "Collection %s.%s already exists", r.db, name)
	}
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		_, err := db.CreateCollection(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return okDoc(), nil
}

func cmdDrop(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, query.Errorf(26, "NamespaceNotFound", "ns not found")
	}
	err = db.InWrite(ctx, func(tx *sql.Tx) error { return db.DropCollection(ctx, tx, c) })
	if err != nil {
		return nil, err
	}
	db.ForgetCollection(name)
	s.cursors.dropNamespace(r.db + "." + name)
	return okDoc("ns", query.VString(r.db+"."+name), "nIndexesWas", query.VInt32(int32(len(c.Indexes)+1))), nil
}

func cmdDropDatabase(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	if err := s.store.Drop(r.db); err != nil {
		return nil, err
	}
	s.cursors.dropNamespace(r.db + ".")
	return okDoc("dropped", query.VString(r.db)), nil
}

// --- indexes ------------------------------------------------------------------------

func cmdCreateIndexes(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	specs, err := r.list("indexes")
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, query.BadValue("must specify at least one index")
	}
	var indexes []*storage.Index
	for _, spec := range specs {
		ix, err := storage.ParseIndexSpec(spec)
		if err != nil {
			return nil, err
		}
		indexes = append(indexes, ix)
	}
	db, err := s.store.Database(r.db, true)
	if err != nil {
		return nil, err
	}
	var before, after int
	createdCollection := db.Collection(name) == nil
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		before = len(c.Indexes) + 1
		for _, ix := range indexes {
			if _, err := db.CreateIndex(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		after = len(c.Indexes) + 1
		return nil
	})
	if err != nil {
		return nil, err
	}
	return okDoc("createdCollectionAutomatically", query.VBool(createdCollection), "numIndexesBefore", query.VInt32(int32(before)),
		"numIndexesAfter", query.VInt32(int32(after))), nil
}

// existing finds the collection a command names: db and c are nil when the
// database or the collection does not exist (not an error: each command
// answers that its own way).
func (s *Handler) existing(r *request) (name string, db *storage.Database, c *storage.Collection, err error) {
	if name, err = r.collName(); err != nil {
		return "", nil, nil, err
	}
	db, c, err = s.lookup(r.db, name)
	return name, db, c, err
}

// lookup is existing for a collection named some other way.
func (s *Handler) lookup(dbName, name string) (*storage.Database, *storage.Collection, error) {
	db, err := s.store.Database(dbName, false)
	if err != nil || db == nil {
		return nil, nil, err
	}
	return db, db.Collection(name), nil
}

func cmdListIndexes(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, query.Errorf(26, "NamespaceNotFound", "ns does not exist: %s.%s", r.db, name)
	}
	docs := []bsoncore.Document{storage.IDIndexSpec()}
	db.Mu.RLock()
	for _, ix := range c.Indexes {
		docs = append(docs, ix.Spec)
	}
	db.Mu.RUnlock()
	return s.cursorReply(r, r.db+"."+name, docs, 0, false)
}

func cmdDropIndexes(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, db, c, err := s.existing(r)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, query.Errorf(26, "NamespaceNotFound", "ns not found %s.%s", r.db, name)
	}
	var names []string
	switch v := r.arg("index"); v.Type {
	case bsoncore.TypeString:
		if v.StringValue() == "*" {
			for _, ix := range c.Indexes {
				names = append(names, ix.Name)
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
		want, err := storage.ParseIndexSpec(query.BuildDoc("key", v, "name", query.VString("?")))
		if err != nil {
			return nil, err
		}
		for _, ix := range c.Indexes {
			if storage.SameKeys(ix, want) {
				names = append(names, ix.Name)
			}
		}
		if len(names) == 0 {
			return nil, query.Errorf(27, "IndexNotFound", "can't find index with key: %s", v.String())
		}
	default:
		return nil, query.BadValue("'index' must be a name, a list of names or a key pattern")
	}
	was := len(c.Indexes) + 1
	for _, n := range names {
		if n == "_id_" {
			return nil, query.Errorf(72, "InvalidOptions", "cannot drop _id index")
		}
	}
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		for _, n := range names {
			if err := db.DropIndex(ctx, tx, c, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return okDoc("nIndexesWas", query.VInt32(int32(was))), nil
}
