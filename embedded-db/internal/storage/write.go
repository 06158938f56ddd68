// Writes at the row level: a document goes in as its keys (c<N>) and its
// BSON (d<N>), in the caller's transaction. A UNIQUE failure becomes
// MongoDB's E11000 duplicate key error naming the index and the key.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// PrepareInsert checks a document to insert and gives it an _id (an
// ObjectId) when it has none, _id first.
func PrepareInsert(doc bsoncore.Document) (bsoncore.Document, error) {
	if err := doc.Validate(); err != nil {
		return nil, query.BadValue("document is not valid BSON: %v", err)
	}
	elems, _ := doc.Elements()
	for _, e := range elems {
		if strings.HasPrefix(e.Key(), "$") {
			return nil, query.BadValue("document can't have $ prefixed field names: %s", e.Key())
		}
	}
	id, err := doc.LookupErr("_id")
	if err == nil {
		if id.Type == bsoncore.TypeArray || id.Type == bsoncore.TypeRegex || id.Type == bsoncore.TypeUndefined {
			return nil, query.BadValue("can't use a %s for _id", id.Type)
		}
		if elems[0].Key() == "_id" {
			return doc, nil
		}
	} else {
		oid := bson.NewObjectID()
		id = bsoncore.Value{Type: bsoncore.TypeObjectID, Data: oid[:]}
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	out = bsoncore.AppendValueElement(out, "_id", id)
	for _, e := range elems {
		if e.Key() != "_id" {
			out = append(out, e...)
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out, nil
}

// rowKeys computes the key columns of doc, marking paths that turn out to hold arrays.
func (db *Database) rowKeys(ctx context.Context, tx *sql.Tx, c *Collection, doc bsoncore.Document) (cols []string, keys []any, err error) {
	cols = []string{"id"}
	keys = []any{query.KeyOf(doc.Lookup("_id"))}
	for _, f := range c.keyColumns() {
		k, multi := fieldKey(doc, f.parts)
		if multi {
			if err := db.markMultikey(ctx, tx, c, f); err != nil {
				return nil, nil, err
			}
		}
		cols = append(cols, f.col)
		keys = append(keys, k)
	}
	cols, keys = c.geoKeys(doc, cols, keys)
	return cols, keys, nil
}

// InsertDoc stores a prepared document.
func (db *Database) InsertDoc(ctx context.Context, tx *sql.Tx, c *Collection, doc bsoncore.Document) error {
	if err := c.checkGeo(doc); err != nil {
		return err
	}
	cols, keys, err := db.rowKeys(ctx, tx, c, doc)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s(%s) VALUES (%s)", c.keysTable(), strings.Join(cols, ", "),
		strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",")), keys...)
	if err != nil {
		return db.dupError(c, err, doc)
	}
	rid, _ := res.LastInsertId()
	if _, err = tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s(rid, doc) VALUES (?, ?)", c.docsTable()), rid, []byte(doc)); err != nil {
		return err
	}
	if err := db.writeGeo(ctx, tx, c, rid, doc); err != nil {
		return err
	}
	if err := db.writeText(ctx, tx, c, rid, doc, nil); err != nil {
		return err
	}
	db.changes = append(db.changes, docChange{coll: c.name, new: doc})
	return nil
}

// ReplaceRow rewrites a stored document (and its keys) in place.
func (db *Database) ReplaceRow(ctx context.Context, tx *sql.Tx, c *Collection, row StoredRow, doc bsoncore.Document) error {
	rid := row.rid
	if err := c.checkGeo(doc); err != nil {
		return err
	}
	cols, keys, err := db.rowKeys(ctx, tx, c, doc)
	if err != nil {
		return err
	}
	sets := make([]string, len(cols))
	for i, col := range cols {
		sets[i] = col + " = ?"
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE rid = ?", c.keysTable(), strings.Join(sets, ", ")),
		append(keys, rid)...); err != nil {
		return db.dupError(c, err, doc)
	}
	if _, err = tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET doc = ? WHERE rid = ?", c.docsTable()), []byte(doc), rid); err != nil {
		return err
	}
	if err := db.writeGeo(ctx, tx, c, rid, doc); err != nil {
		return err
	}
	if err := db.writeText(ctx, tx, c, rid, doc, nil); err != nil {
		return err
	}
	db.changes = append(db.changes, docChange{coll: c.name, old: row.Doc, new: doc})
	return nil
}

func (db *Database) DeleteRow(ctx context.Context, tx *sql.Tx, c *Collection, row StoredRow) error {
	for _, t := range []string{c.keysTable(), c.docsTable()} {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE rid = ?", t), row.rid); err != nil {
			return err
		}
	}
	if err := db.writeGeo(ctx, tx, c, row.rid, nil); err != nil {
		return err
	}
	if err := db.writeText(ctx, tx, c, row.rid, nil, nil); err != nil {
		return err
	}
	db.changes = append(db.changes, docChange{coll: c.name, old: row.Doc})
	return nil
}

// dupError turns a UNIQUE failure into E11000 with the index and the key.
func (db *Database) dupError(c *Collection, err error, doc bsoncore.Document) error {
	cols, dup := isUniqueViolation(err)
	if !dup {
		return err
	}
	ix, name := c.indexForColumns(cols)
	var parts []string
	if ix == nil {
		parts = append(parts, "_id: "+doc.Lookup("_id").String())
	} else {
		for _, k := range ix.keys {
			v := query.LookupOne(doc, query.SplitPath(k.path))
			s := "null"
			if !query.Missing(v) {
				s = v.String()
			}
			parts = append(parts, k.path+": "+s)
		}
	}
	return &query.CmdError{Code: 11000, Name: "DuplicateKey",
		Msg: fmt.Sprintf("E11000 duplicate key error collection: %s.%s index: %s dup key: { %s }", db.name, c.name, name,
			strings.Join(parts, ", "))}
}

// StoredRow is a document as read for a change: its row id and its BSON.
type StoredRow struct {
	rid int64
	Doc bsoncore.Document
}

// allRows reads every document of c, in the transaction: what a new geo
// or text index is filled from (read whole before it is written to).
func allRows(ctx context.Context, tx *sql.Tx, c *Collection) ([]StoredRow, error) {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT rid, doc FROM %s`, c.docsTable()))
	if err != nil {
		return nil, err
	}
	var out []StoredRow
	err = eachRow(rows, func(r StoredRow) bool {
		out = append(out, r)
		return true
	})
	return out, err
}

// eachRow gives fn each (rid, doc) row of rows until it answers false, and closes rows.
func eachRow(rows *sql.Rows, fn func(StoredRow) bool) error {
	defer rows.Close()
	for rows.Next() {
		var r StoredRow
		var raw []byte
		if err := rows.Scan(&r.rid, &raw); err != nil {
			return err
		}
		r.Doc = bsoncore.Document(raw)
		if !fn(r) {
			break
		}
	}
	return rows.Err()
}

// SelectRows reads the rows a write applies to, in the transaction: all
// that match, or the first `limit` in `sort` order.
func (db *Database) SelectRows(ctx context.Context, tx *sql.Tx, c *Collection, filter query.Node, sortKeys []query.SortKey, limit int64) ([]StoredRow, error) {
	if err := db.BindText(c, filter); err != nil {
		return nil, err
	}
	cnd, ok := c.translate(filter)
	if !ok {
		cnd = cond{text: "1"}
	}
	order, sortable := c.sortSQL(sortKeys)
	text := fmt.Sprintf("SELECT k.rid, d.doc FROM %s k JOIN %s d ON d.rid = k.rid WHERE %s", c.keysTable(), c.docsTable(), cnd.text)
	if sortable {
		text += " ORDER BY " + prefixCols(order, "k.")
	}
	rows, err := tx.QueryContext(ctx, text, cnd.args...)
	if err != nil {
		return nil, err
	}
	var out []StoredRow
	err = eachRow(rows, func(r StoredRow) bool {
		if cnd.exact || filter.Match(r.Doc) {
			out = append(out, r)
		}
		return !(sortable && limit > 0 && int64(len(out)) >= limit)
	})
	if err != nil {
		return nil, err
	}
	if !sortable && len(sortKeys) > 0 {
		docs := make([]bsoncore.Document, len(out))
		byDoc := map[*byte]int64{}
		for i, r := range out {
			docs[i] = r.Doc
			byDoc[&r.Doc[0]] = r.rid
		}
		var score func(bsoncore.Document) float64
		if t := query.FindText(filter); t != nil {
			score = t.Score
		}
		query.SortScored(docs, sortKeys, score)
		for i, d := range docs {
			out[i] = StoredRow{rid: byDoc[&d[0]], Doc: d}
		}
	}
	if limit > 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}
