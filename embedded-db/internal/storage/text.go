// Text indexes over SQLite's FTS5: a collection's one text index is a
// table t<N>_<seq>(w0, w1, …, elems) USING fts5 with the unicode61 tokenizer
// (remove_diacritics 2), its rowid the row's rid. Column wI holds the words
// of every string the index's field I holds, already split and folded by
// query.Words, so that FTS5 sees the words the Go matcher compares ("ß"
// already "ss", "é" already "e"); column elems holds one token per string of
// at most elementMax bytes on each field: "x<I>h<hex of its bytes>".
//
// A $text becomes the FTS5 query {w0 w1 …}: ("t1" OR "t2") NOT (…), and
// $all of strings on a text-indexed field (how Roost asks for every word)
// elems: ("x2h…" AND "x2h…"): both exact, so a count is one FTS5 probe and a
// page reads its own documents only. The textScore is FTS5's bm25 with
// the index's weights (MongoDB's own formula is not documented; both rank
// the better match first), read with the page (readText); only a write
// that selects by $text and sorts by its score falls back to Go's
// formula (query/text.go). FTS5's tables are Unicode 6.1's: a character
// newer than that is a separator to it and a letter to Go — the one case
// where the index and the matcher differ (a word of such letters only is
// no word to FTS5, and a word holding some is split by it).
package storage

import (
	"context"
	"database/sql"
	"encoding/hex"
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

// elementMax: the longest string kept whole in column elems ($all exactness).
const elementMax = 64

func ftsColumns(ix *Index) string {
	cols := make([]string, len(ix.textFields))
	for i := range cols {
		cols[i] = fmt.Sprintf("w%d", i)
	}
	return strings.Join(cols, " ")
}

func (db *Database) createTextIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	if old := c.textIndex(); old != nil {
		return query.Errorf(85, "IndexOptionsConflict",
			"only one text index per collection allowed, found existing text index \"%s\"", old.Name)
	}
	cols := strings.ReplaceAll(ftsColumns(ix), " ", ", ")
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(
		`CREATE VIRTUAL TABLE %s USING fts5(%s, elems, tokenize = 'unicode61 remove_diacritics 2')`, ix.sqlName, cols)); err != nil {
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

// textRow is what the FTS5 table holds for doc: each field's words, then
// its elements' tokens; ok is false when it holds no string at all.
func textRow(ix *Index, doc bsoncore.Document) (vals []any, ok bool) {
	var elems []string
	for i, f := range ix.textFields {
		var words []string
		for _, s := range query.FieldStrings(doc, f.Parts) {
			ok = true
			words = append(words, query.Words(s)...)
			if len(s) <= elementMax {
				elems = append(elems, elementToken(i, s))
			}
		}
		vals = append(vals, strings.Join(words, " "))
	}
	return append(vals, strings.Join(elems, " ")), ok
}

func elementToken(field int, s string) string {
	return fmt.Sprintf("x%dh%s", field, hex.EncodeToString([]byte(s)))
}

// writeText keeps c's text index in step with row rid, now holding doc
// (nil: deleted). ix: the index being made, else c's.
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
	vals, ok := textRow(ix, doc)
	if !ok {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(vals)+1), ", ")
	_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s(rowid, %s, elems) VALUES (%s)`, ix.sqlName,
		strings.ReplaceAll(ftsColumns(ix), " ", ", "), marks), append([]any{rid}, vals...)...)
	return err
}

// ftsQuery joins words, each a quoted FTS5 string, with op.
func ftsQuery(words []string, op string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(quoted, " "+op+" ")
}

// textMatch is the FTS5 query of a $text: any term in a text column, none
// of the negated ones. Empty when it has no term (it matches nothing).
func textMatch(ix *Index, t *query.TextNode) string {
	if len(t.Terms) == 0 {
		return ""
	}
	cols := "{" + ftsColumns(ix) + "}"
	m := fmt.Sprintf("%s : (%s)", cols, ftsQuery(t.Terms, "OR"))
	if len(t.Negated) > 0 {
		m = fmt.Sprintf("(%s) NOT (%s : (%s))", m, cols, ftsQuery(t.Negated, "OR"))
	}
	return m
}

func ftsCond(table, match string) cond {
	return subsetCond(subset{table: table, from: table, rowid: "rowid", where: table + " MATCH ?", args: []any{match}, fts: match})
}

// mergeFTS makes the terms of a conjunction that each ask the text index
// one FTS5 query ANDed: FTS5 intersects its own lists, where two IN sets
// would each be built whole (a $text beside the $all of its words: every
// row holding any word, then every row holding all).
func mergeFTS(terms []cond) []cond {
	var out []cond
	at := -1
	for _, t := range terms {
		if t.sub == nil || t.sub.fts == "" {
			out = append(out, t)
			continue
		}
		if at < 0 {
			at = len(out)
			out = append(out, t)
			continue
		}
		out[at] = ftsCond(t.sub.table, "("+out[at].sub.fts+") AND ("+t.sub.fts+")")
	}
	return out
}

// translateText: the rows FTS5 finds any term in, exactly.
func (c *Collection) translateText(t *query.TextNode) (cond, bool) {
	ix := c.textIndex()
	if ix == nil {
		return cond{}, false
	}
	m := textMatch(ix, t)
	if m == "" {
		return cond{text: "0", exact: true}, true // matches nothing
	}
	return ftsCond(ix.sqlName, m), true
}

// translateAllWords: {path: {$all: [strings]}} on a text-indexed field,
// exactly, through the elements' tokens (each string at most elementMax
// bytes; otherwise not translated).
func (c *Collection) translateAllWords(f *query.FieldNode) (cond, bool) {
	ix := c.textIndex()
	if ix == nil || len(f.List) == 0 {
		return cond{}, false
	}
	field := -1
	for i, tf := range ix.textFields {
		if tf.Path == f.PathStr {
			field = i
		}
	}
	if field < 0 {
		return cond{}, false
	}
	var tokens []string
	for _, v := range f.List {
		s, ok := v.StringValueOK()
		if !ok || len(s) > elementMax {
			return cond{}, false
		}
		tokens = append(tokens, elementToken(field, s))
	}
	return ftsCond(ix.sqlName, "elems : ("+ftsQuery(tokens, "AND")+")"), true
}

// bm25 is the FTS5 call that scores a row with the index's weights (the
// element column weighs nothing), negated: higher is better, as textScore.
func bm25(ix *Index) string {
	w := make([]string, 0, len(ix.textFields)+1)
	for _, f := range ix.textFields {
		w = append(w, fmt.Sprintf("%g", f.Weight))
	}
	return fmt.Sprintf("-bm25(%s, %s, 0)", ix.sqlName, strings.Join(w, ", "))
}

// withoutText is n without its $text (query.FindText's), which readText
// joins instead.
func withoutText(n query.Node) query.Node {
	switch n := n.(type) {
	case *query.TextNode:
		return query.TrueNode{}
	case query.AndNode:
		out := make(query.AndNode, 0, len(n))
		for _, c := range n {
			if _, isText := c.(*query.TextNode); isText {
				continue
			}
			out = append(out, withoutText(c))
		}
		return out
	}
	return n
}

// readText reads a filter holding a $text, each document with its score
// (ReadResult.Scores): joined with the FTS5 table, so that SQLite orders
// by the score, or by the sort's columns, and cuts the page when the rest
// of the filter is SQL too; otherwise every match is read and Go finishes.
func (db *Database) readText(ctx context.Context, q *sql.Tx, c *Collection, rs ReadSpec, t *query.TextNode) (*ReadResult, error) {
	db.Mu.RLock()
	ix := c.textIndex()
	rest := withoutText(rs.Filter)
	cnd, ok := c.translate(rest)
	order, sortable := c.sortSQL(rs.Sort)
	keys, docs := c.keysTable(), c.docsTable()
	db.Mu.RUnlock()
	match := textMatch(ix, t)
	res := &ReadResult{Exact: true}
	if match == "" {
		return res, nil
	}
	if !ok {
		cnd = cond{text: "1"}
	}
	if also, others := splitSubset(cnd, ix.sqlName); also != nil {
		match, cnd = "("+match+") AND ("+also.fts+")", others
	}
	byScore := len(rs.Sort) > 0 && rs.Sort[0].Meta
	switch {
	case byScore && (len(rs.Sort) == 1 || (len(rs.Sort) == 2 && rs.Sort[1].Path == "_id" && rs.Sort[1].Dir > 0)):
		order, sortable = "s DESC, k.id", true
	case byScore || query.HasMeta(rs.Sort):
		sortable = false
	case sortable:
		order = prefixCols(order, "k.")
	}
	from := fmt.Sprintf("FROM %s k JOIN %s ON %s.rowid = k.rid", keys, ix.sqlName, ix.sqlName)
	args := append([]any{match}, cnd.args...)
	if cnd.exact && sortable {
		lim := rs.Limit
		if lim <= 0 {
			lim = -1
		}
		res.SQL = fmt.Sprintf("SELECT k.rid, %s AS s %s WHERE %s MATCH ? AND %s ORDER BY %s LIMIT ? OFFSET ?",
			bm25(ix), from, ix.sqlName, cnd.text, order)
		res.Args = append(args, lim, rs.Skip)
		rows, err := db.rows(ctx, q, res.SQL, res.Args...)
		if err != nil {
			return nil, err
		}
		var rids []int64
		for rows.Next() {
			var rid int64
			var s float64
			if err := rows.Scan(&rid, &s); err != nil {
				rows.Close()
				return nil, err
			}
			rids = append(rids, rid)
			res.Scores = append(res.Scores, s)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		// Each document with its own score, also if one went meanwhile.
		found, err := db.docsAt(ctx, q, docs, rids)
		scores := res.Scores
		res.Scores = nil
		for i, d := range found {
			if d != nil {
				res.Docs = append(res.Docs, d)
				res.Scores = append(res.Scores, scores[i])
			}
		}
		res.Examined = int64(len(res.Docs))
		return res, err
	}
	res.Exact = false
	res.SQL = fmt.Sprintf("SELECT k.rid, d.doc, %s %s JOIN %s d ON d.rid = k.rid WHERE %s MATCH ? AND %s",
		bm25(ix), from, docs, ix.sqlName, cnd.text)
	res.Args = args
	rows, err := db.rows(ctx, q, res.SQL, res.Args...)
	if err != nil {
		return nil, err
	}
	score := map[*byte]float64{}
	for rows.Next() {
		var rid int64
		var raw []byte
		var s float64
		if err := rows.Scan(&rid, &raw, &s); err != nil {
			rows.Close()
			return nil, err
		}
		res.Examined++
		doc := bsoncore.Document(raw)
		if cnd.exact || rest.Match(doc) {
			res.Docs = append(res.Docs, doc)
			score[&doc[0]] = s
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	query.SortScored(res.Docs, rs.Sort, func(d bsoncore.Document) float64 { return score[&d[0]] })
	res.Docs = skipLimitDocs(res.Docs, rs.Skip, rs.Limit)
	for _, d := range res.Docs {
		res.Scores = append(res.Scores, score[&d[0]])
	}
	return res, nil
}
