// The write commands: insert, update, delete and findAndModify, each
// statement of a batch at a savepoint of its own (writeEach).
package handler

import (
	"context"
	"database/sql"
	"errors"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// writeErrors collects the per-statement failures of a write command;
// other errors stop the command.
type writeErrors struct {
	list []bsoncore.Value
}

func (w *writeErrors) add(index int, err error) error {
	var ce *query.CmdError
	if !errors.As(err, &ce) {
		return err
	}
	w.list = append(w.list, query.VDoc(query.BuildDoc("index", query.VInt32(int32(index)), "code", query.VInt32(ce.Code),
		"errmsg", query.VString(ce.Msg))))
	return nil
}

func (w *writeErrors) reply(kv ...any) bsoncore.Document {
	if len(w.list) > 0 {
		kv = append(kv, "writeErrors", query.VArray(w.list))
	}
	return okDoc(kv...)
}

// writeEach runs `one` for each statement of a write command, inside the
// command's transaction and each at a savepoint of its own, so that a
// statement that fails leaves nothing behind: its own error (a cmdError)
// is recorded in werr and, when the command is ordered, stops the
// statements after it; any other error stops the command.
func writeEach(ctx context.Context, db *storage.Database, tx *sql.Tx, items []bsoncore.Document, ordered bool, werr *writeErrors,
	one func(i int, item bsoncore.Document) error) error {
	for i, item := range items {
		err, fatal := db.AtSavepoint(ctx, tx, func() error { return one(i, item) })
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
		}
	}
	return nil
}

// ordered reads the "ordered" flag (default true).
func (r *request) ordered() bool {
	v, err := r.cmd.LookupErr("ordered")
	return err != nil || query.Truthy(v)
}

// writeTarget reads what every write command starts with: the collection's
// name, the list of documents or statements, and the database (created for
// insert and update; nil for a delete in a database that does not exist).
func (s *Handler) writeTarget(r *request, list string, create bool) (name string, items []bsoncore.Document, db *storage.Database, err error) {
	if name, err = r.collName(); err != nil {
		return "", nil, nil, err
	}
	if items, err = r.list(list); err != nil {
		return "", nil, nil, err
	}
	db, err = s.store.Database(r.db, create)
	return name, items, db, err
}

func cmdInsert(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, docs, db, err := s.writeTarget(r, "documents", true)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	n := 0
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		return writeEach(ctx, db, tx, docs, r.ordered(), &werr, func(i int, doc bsoncore.Document) error {
			prepared, err := storage.PrepareInsert(doc)
			if err == nil {
				err = db.InsertDoc(ctx, tx, c, prepared)
			}
			if err == nil {
				n++
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, int64(n))
	return werr.reply("n", query.VInt32(int32(n))), nil
}

func cmdUpdate(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, stmts, db, err := s.writeTarget(r, "updates", true)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	var matched, modified int64
	var upserted []bsoncore.Value
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		return writeEach(ctx, db, tx, stmts, r.ordered(), &werr, func(i int, st bsoncore.Document) error {
			m, mod, id, err := updateOne(ctx, db, tx, c, st)
			if err != nil {
				return err
			}
			matched += m
			modified += mod
			if !query.Missing(id) {
				upserted = append(upserted, query.VDoc(query.BuildDoc("index", query.VInt32(int32(i)), "_id", id)))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, matched)
	kv := []any{"n", query.VInt32(int32(matched + int64(len(upserted)))), "nModified", query.VInt32(int32(modified))}
	if len(upserted) > 0 {
		kv = append(kv, "upserted", query.VArray(upserted))
	}
	return werr.reply(kv...), nil
}

// updateOne runs one update statement {q, u, upsert, multi}: how many
// documents matched and changed, and the _id of an upserted one.
func updateOne(ctx context.Context, db *storage.Database, tx *sql.Tx, c *storage.Collection, st bsoncore.Document) (int64, int64, bsoncore.Value, error) {
	q, _ := st.Lookup("q").DocumentOK()
	uv := st.Lookup("u")
	if uv.Type == bsoncore.TypeArray {
		return 0, 0, bsoncore.Value{}, query.NotSupported("pipeline-style updates")
	}
	u, ok := uv.DocumentOK()
	if !ok {
		return 0, 0, bsoncore.Value{}, query.Errorf(9, "FailedToParse", "update must be a document")
	}
	if !query.Missing(st.Lookup("arrayFilters")) {
		return 0, 0, bsoncore.Value{}, query.NotSupported("arrayFilters")
	}
	filter, err := query.CompileFilter(q)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	multi := query.Truthy(st.Lookup("multi"))
	if multi && query.IsReplacement(u) {
		return 0, 0, bsoncore.Value{}, query.Errorf(9, "FailedToParse", "multi update is not supported for replacement-style update")
	}
	limit := int64(1)
	if multi {
		limit = 0
	}
	rows, err := db.SelectRows(ctx, tx, c, filter, nil, limit)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	var modified int64
	for _, row := range rows {
		next, err := updatedDoc(row.Doc, u, false)
		if err != nil {
			return 0, 0, bsoncore.Value{}, err
		}
		if string(next) == string(row.Doc) {
			continue
		}
		if err := db.ReplaceRow(ctx, tx, c, row, next); err != nil {
			return 0, 0, bsoncore.Value{}, err
		}
		modified++
	}
	if len(rows) > 0 || !query.Truthy(st.Lookup("upsert")) {
		return int64(len(rows)), modified, bsoncore.Value{}, nil
	}
	doc, err := upsertDoc(q, u)
	if err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	if err := db.InsertDoc(ctx, tx, c, doc); err != nil {
		return 0, 0, bsoncore.Value{}, err
	}
	return 0, 0, doc.Lookup("_id"), nil
}

func updatedDoc(old, u bsoncore.Document, inserting bool) (bsoncore.Document, error) {
	if query.IsReplacement(u) {
		return query.ReplaceDoc(old, u)
	}
	return query.ApplyUpdate(old, u, inserting)
}

// upsertDoc builds the document an upsert inserts.
func upsertDoc(q, u bsoncore.Document) (bsoncore.Document, error) {
	seed, err := query.UpsertSeed(q)
	if err != nil {
		return nil, err
	}
	base, err := query.FromD(seed)
	if err != nil {
		return nil, err
	}
	doc, err := updatedDoc(base, u, true)
	if err != nil {
		return nil, err
	}
	if query.IsReplacement(u) {
		if id := base.Lookup("_id"); !query.Missing(id) && query.Missing(doc.Lookup("_id")) {
			doc, _ = query.ReplaceDoc(query.BuildDoc("_id", id), doc)
		}
	}
	return storage.PrepareInsert(doc)
}

func cmdDelete(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, stmts, db, err := s.writeTarget(r, "deletes", false)
	if err != nil {
		return nil, err
	}
	var werr writeErrors
	var n int64
	if db == nil || db.Collection(name) == nil {
		return werr.reply("n", query.VInt32(0)), nil
	}
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c := db.Collection(name)
		if c == nil {
			return nil
		}
		return writeEach(ctx, db, tx, stmts, r.ordered(), &werr, func(i int, st bsoncore.Document) error {
			q, _ := st.Lookup("q").DocumentOK()
			filter, err := query.CompileFilter(q)
			if err != nil {
				return err
			}
			limit, _ := query.Integer(st.Lookup("limit"))
			rows, err := db.SelectRows(ctx, tx, c, filter, nil, limit)
			for _, row := range rows {
				if err == nil {
					err = db.DeleteRow(ctx, tx, c, row)
				}
			}
			if err == nil {
				n += int64(len(rows))
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, n)
	return werr.reply("n", query.VInt32(int32(n))), nil
}

func cmdFindAndModify(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	q, err := r.docArg("query")
	if err != nil {
		return nil, err
	}
	filter, err := query.CompileFilter(q)
	if err != nil {
		return nil, err
	}
	sortSpec, err := r.docArg("sort")
	if err != nil {
		return nil, err
	}
	keys, _, err := query.ParseSort(sortSpec)
	if err != nil {
		return nil, err
	}
	fields, err := r.docArg("fields")
	if err != nil {
		return nil, err
	}
	proj, err := query.ParseProjection(fields)
	if err != nil {
		return nil, err
	}
	remove := query.Truthy(r.arg("remove"))
	u, _ := r.arg("update").DocumentOK()
	if r.arg("update").Type == bsoncore.TypeArray {
		return nil, query.NotSupported("pipeline-style updates")
	}
	if remove == (u != nil) {
		return nil, query.Errorf(9, "FailedToParse", "either an update or remove=true must be specified")
	}
	returnNew, upsert := query.Truthy(r.arg("new")), query.Truthy(r.arg("upsert"))
	db, err := s.store.Database(r.db, true)
	if err != nil {
		return nil, err
	}
	var value bsoncore.Value = query.VNull()
	var last []any
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, name)
		if err != nil {
			return err
		}
		rows, err := db.SelectRows(ctx, tx, c, filter, keys, 1)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			if remove || !upsert {
				last = []any{"n", query.VInt32(0), "updatedExisting", query.VBool(false)}
				return nil
			}
			doc, err := upsertDoc(q, u)
			if err != nil {
				return err
			}
			if err := db.InsertDoc(ctx, tx, c, doc); err != nil {
				return err
			}
			if returnNew {
				value = query.VDoc(proj.Apply(doc))
			}
			last = []any{"n", query.VInt32(1), "updatedExisting", query.VBool(false), "upserted", doc.Lookup("_id")}
			return nil
		}
		row := rows[0]
		if remove {
			if err := db.DeleteRow(ctx, tx, c, row); err != nil {
				return err
			}
			value = query.VDoc(proj.Apply(row.Doc))
			last = []any{"n", query.VInt32(1)}
			return nil
		}
		next, err := updatedDoc(row.Doc, u, false)
		if err != nil {
			return err
		}
		if err := db.ReplaceRow(ctx, tx, c, row, next); err != nil {
			return err
		}
		if returnNew {
			value = query.VDoc(proj.Apply(next))
		} else {
			value = query.VDoc(proj.Apply(row.Doc))
		}
		last = []any{"n", query.VInt32(1), "updatedExisting", query.VBool(true)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, nil, 1)
	return okDoc("lastErrorObject", query.VDoc(query.BuildDoc(last...)), "value", value), nil
}
