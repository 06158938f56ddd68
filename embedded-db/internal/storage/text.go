// Text indexes over SQLite's FTS5: a collection's one text index is a
// table t<N>_<seq>(body) USING fts5 with the unicode61 tokenizer
// (remove_diacritics 2), its rowid the row's rid and its body every string
// the index's fields hold, folded first by query.Fold, so that FTS5 sees
// the same words the Go matcher compares ("ß" already "ss"). A $text
// becomes the FTS5 query "t1" OR "t2"…, and $all of words on a text-indexed
// array (how Roost asks for every word) "w1" AND "w2"…: both only narrow —
// each quoted word is a phrase of whatever FTS5 splits it into, found
// wherever the document's text holds that word — and the Go matcher and
// scorer (query/text.go) decide.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// parseTextKey reads the keys and options of a text index spec: every key
// "text" (no compound prefix), default_language "none", weights 1–99,999
// for its own fields.
func parseTextIndex(ix *Index, spec bsoncore.Document) error {
	weights := map[string]float64{}
	if w, err := spec.LookupErr("weights"); err == nil {
		d, ok := w.DocumentOK()
		if !ok {
			return query.Errorf(67, "CannotCreateIndex", "weights must be an object")
		}
		elems, _ := d.Elements()
		for _, e := range elems {
			n, ok := query.Number(e.Value())
			if !ok || n < 1 || n >= 100000 {
				return query.Errorf(67, "CannotCreateIndex", "text index weight for %s must be in the exclusive interval (0,100000)", e.Key())
			}
			weights[e.Key()] = n
		}
	}
	lang, _ := spec.Lookup("default_language").StringValueOK()
	if lang != "none" {
		return query.Errorf(67, "CannotCreateIndex",
			"text index %s: roost-embedded-db has no stemming or stop words; give default_language \"none\"", ix.Name)
	}
	for _, k := range ix.keys {
		w := 1.0
		if n, ok := weights[k.path]; ok {
			w = n
			delete(weights, k.path)
		}
		ix.textFields = append(ix.textFields, query.TextField{Path: k.path, Parts: query.SplitPath(k.path), Weight: w})
	}
	for path := range weights {
		return query.Errorf(67, "CannotCreateIndex", "text index weights name %s, which is not one of its keys here", path)
	}
	return nil
}

// textIndex is c's text index, if any.
func (c *Collection) textIndex() *Index {
	for _, ix := range c.Indexes {
		if ix.text {
			return ix
		}
	}
	return nil
}

// BindText gives a filter's $text its collection's text index: 27
// IndexNotFound when there is none, as MongoDB answers.
func (db *Database) BindText(c *Collection, n query.Node) error {
	t := query.FindText(n)
	if t == nil {
		return nil
	}
	var ix *Index
	if c != nil {
		db.Mu.RLock()
		ix = c.textIndex()
		db.Mu.RUnlock()
	}
	if ix == nil {
		return query.Errorf(27, "IndexNotFound", "text index required for $text query")
	}
	t.Fields = ix.textFields
	return nil
}

func (db *Database) createTextIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	if old := c.textIndex(); old != nil {
		return query.Errorf(85, "IndexOptionsConflict",
			"only one text index per collection allowed, found existing text index \"%s\"", old.Name)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(
		`CREATE VIRTUAL TABLE %s USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')`, ix.sqlName)); err != nil {
		return err
	}
	rows, err := allRows(ctx, tx, c)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := db.writeText(ctx, tx, c, row.rid, row.Doc, ix); err != nil {
			return err
		}
	}
	return nil
}

// writeText keeps c's text index in step with row rid, now holding doc
// (nil: deleted).
// ix: the index being made, else c's.
func (db *Database) writeText(ctx context.Context, tx *sql.Tx, c *Collection, rid int64, doc bsoncore.Document, ix *Index) error {
	if ix == nil {
		ix = c.textIndex()
	}
	if ix == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE rowid = ?`, ix.sqlName), rid); err != nil {
		return err
	}
	if doc == nil {
		return nil
	}
	if body := query.TextOf(doc, ix.textFields); body != "" {
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s(rowid, body) VALUES (?, ?)`, ix.sqlName), rid, body)
		return err
	}
	return nil
}

// ftsQuery joins words, each a quoted FTS5 string, with op.
func ftsQuery(words []string, op string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(quoted, " "+op+" ")
}

func ftsCond(ix *Index, match string) cond {
	return cond{text: fmt.Sprintf("k.rid IN (SELECT rowid FROM %s WHERE %s MATCH ?)", ix.sqlName, ix.sqlName),
		args: []any{match}}
}

// translateText narrows a $text to the rows FTS5 finds any term in.
func (c *Collection) translateText(t *query.TextNode) (cond, bool) {
	ix := c.textIndex()
	if ix == nil {
		return cond{}, false
	}
	if len(t.Terms) == 0 {
		return cond{text: "0", exact: true}, true // matches nothing
	}
	return ftsCond(ix, ftsQuery(t.Terms, "OR")), true
}

// translateAllWords narrows {path: {$all: [strings]}} on a text-indexed
// path to the rows whose text holds every one of those strings' words.
func (c *Collection) translateAllWords(f *query.FieldNode) (cond, bool) {
	ix := c.textIndex()
	if ix == nil || len(f.List) == 0 {
		return cond{}, false
	}
	indexed := false
	for _, tf := range ix.textFields {
		indexed = indexed || tf.Path == f.PathStr
	}
	if !indexed {
		return cond{}, false
	}
	var phrases []string
	for _, v := range f.List {
		s, ok := v.StringValueOK()
		words := query.Words(s)
		if !ok || len(words) == 0 {
			return cond{}, false
		}
		phrases = append(phrases, strings.Join(words, " "))
	}
	return ftsCond(ix, ftsQuery(phrases, "AND")), true
}
