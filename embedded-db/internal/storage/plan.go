// Reads: a filter, a sort, a skip and a limit become one SQL statement over
// the key columns. Each condition on a path that has a column (an indexed,
// non-array field, or _id) is translated; SQLite's planner then picks the
// index. When every condition translates ("exact"), SQLite also applies
// the sort, the skip, the limit and the count, so a deep page or a total
// costs index steps, not documents. Otherwise the translated part narrows
// the rows and the whole filter is checked in Go on each document.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// ReadSpec is what a find, a count or an aggregation's first stages read.
type ReadSpec struct {
	Filter    query.Node
	FilterKey string // the filter as sent (its BSON): what a kept count is found by
	Sort      []query.SortKey
	Skip      int64
	Limit     int64 // 0: no limit
	IDOnly    bool  // only _id is wanted: read it from the keys, not the documents
	// Nearest first from a point on a 2dsphere path, then _id, instead of
	// Sort ($geoNear): in SQL when the filter is (geo.go's readNear).
	Near *Near
}

// ReadResult is the documents read and how: for explain and the profiler.
type ReadResult struct {
	Docs       []bsoncore.Document
	SQL        string
	Args       []any
	Exact      bool
	sortedInGo bool
	Examined   int64
	Scores     []float64 // each document's text score, when the filter has a $text
}

// ReadPlan is how a readSpec will be read: one SQL statement, and whether
// SQLite answers all of it (exact and sortable) or Go finishes the work.
type ReadPlan struct {
	Text     string
	Args     []any
	exact    bool
	sortable bool
	docs     string // the documents' table

	// trial: the same page read along the sort's own index (the equality
	// terms only) through its first N entries, the other terms checked on
	// those (N the first argument): see trialSizes.
	trial         string
	trialArgs     []any
	trialLimitArg int // the index in trialArgs of the walk's length

	// driven: the same page read from the R*Tree's rows in the filter's
	// shape, when the shape holds few enough of them (near.go).
	driven     string
	drivenArgs []any
	shapeRows  string // counts the shape's candidates, up to a bound
	shapeArgs  []any
	keys       string
}

// A sorted page with a range or IN term besides its equalities: SQLite,
// without statistics, would rather collect every row in the range and sort
// them (28,000 rows for a price range that a quarter of the listings
// match), where walking the sort's index finds the page after a few dozen.
// The walk is tried first, bounded to trialRows index entries; when it
// fills the page, that is the answer, and when it does not (the range is
// narrow) SQLite's own plan runs, so neither kind of filter scans much. It
// is MongoDB's way too: race the candidate plans for a bounded trial.
//
// The walk reads its N entries whole before the page is cut from them, so
// it is tried short first — eight times the page, enough when one entry in
// eight or more matches, as with a type filter — then long. A deep page
// (page 50 of 20) walks once, sixteen times its end: the city's own index,
// which the walk takes when the filter names a city, holds a few thousand.
const trialRows = 2000

// trialDeepest is the deepest page end a walk is tried for: MarkStride's
// own, as deeper pages start from a mark (marks.go).
const trialDeepest = 1000

func trialSizes(pageEnd int64) []int64 {
	if pageEnd > trialRows/4 {
		return []int64{16 * pageEnd}
	}
	short := 8 * pageEnd
	if short < 64 {
		short = 64
	}
	if short >= trialRows {
		return []int64{trialRows}
	}
	return []int64{short, trialRows}
}

// trialSplit parts a filter's terms for the trial walk: eq, the equalities
// that lead an index whose next key is the sort's first (so SQLite walks
// that index in page order) — the most of them any such index has, so
// that the walk is the shortest; other, the terms checked on the walk.
// Without such an index: every equality, and the other terms.
func (c *Collection) trialSplit(terms []cond, keys []query.SortKey) (eq, other []cond) {
	best := -1
	for _, ix := range c.Indexes {
		if lead, rest, ok := c.leadOf(ix, terms, keys); ok && len(lead) > best {
			best, eq, other = len(lead), lead, rest
		}
	}
	if best >= 0 {
		return eq, other
	}
	eq, other = nil, nil
	for _, t := range terms {
		if t.eq {
			eq = append(eq, t)
		} else {
			other = append(other, t)
		}
	}
	return eq, other
}

// leadOf: the equality terms that lead ix up to the sort's first key, and
// the other terms; ok when ix reaches that key.
func (c *Collection) leadOf(ix *Index, terms []cond, keys []query.SortKey) (lead, other []cond, ok bool) {
	if len(keys) == 0 {
		return nil, nil, false
	}
	first, _ := c.column(keys[0].Path)
	used := map[int]bool{}
	for _, k := range ix.keys {
		col, known := c.column(k.path)
		if !known {
			return nil, nil, false
		}
		if col == first {
			for i, t := range terms {
				if !used[i] {
					other = append(other, t)
				}
			}
			return lead, other, true
		}
		found := -1
		for i, t := range terms {
			if t.eq && t.col == col && !used[i] {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, nil, false
		}
		used[found] = true
		lead = append(lead, terms[found])
	}
	return nil, nil, false
}

func (db *Database) PlanRead(c *Collection, rs ReadSpec) ReadPlan {
	db.Mu.RLock()
	cnd, ok := c.translate(rs.Filter)
	order, sortable := c.sortSQL(rs.Sort)
	keys, docs := c.keysTable(), c.docsTable()
	eq, other := c.trialSplit(cnd.parts, rs.Sort)
	db.Mu.RUnlock()
	if !ok {
		cnd = cond{text: "1"}
	}
	p := ReadPlan{exact: cnd.exact, sortable: sortable, docs: docs}
	if cnd.exact && sortable {
		// Everything in SQLite: the keys pick the page, then its documents are read.
		p.Text = fmt.Sprintf("SELECT rid FROM %s k WHERE %s ORDER BY %s", keys, cnd.text, order)
		p.Args = append([]any(nil), cnd.args...)
		if rs.Limit > 0 || rs.Skip > 0 {
			lim := rs.Limit
			if lim <= 0 {
				lim = -1
			}
			p.Text += " LIMIT ? OFFSET ?"
			p.Args = append(p.Args, lim, rs.Skip)
		}
		p.keys = keys
		c.planShapeDriven(&p, cnd, order, rs)
		if rs.Limit > 0 && rs.Skip+rs.Limit <= trialDeepest && len(rs.Sort) > 0 && rs.Sort[0].Path != "$natural" {
			// Equalities alone SQLite plans well: it walks the sort's index
			// and checks them on the way, stopping at the page's end.
			// A set an index's table selects (2dsphere, text) is built anew
			// at each run: SQLite's own plan, which builds it once, is best.
			ranged, sets := false, false
			for _, t := range other {
				ranged = ranged || !t.eq
				sets = sets || t.sub != nil
			}
			if ranged && !sets {
				inner := conjunction(eq, true)
				if len(eq) == 0 {
					inner = cond{text: "1"}
				}
				outer := conjunction(other, true)
				// The outer query reads the walk's rows, not the keys table
				// (so that explain does not take it for a scan): no alias k.
				p.trial = fmt.Sprintf("SELECT rid FROM (SELECT * FROM %s k WHERE %s ORDER BY %s LIMIT ?) WHERE %s ORDER BY %s "+
					"LIMIT ? OFFSET ?", keys, inner.text, order, strings.ReplaceAll(outer.text, "k.rid", "rid"), order)
				p.trialArgs = append(append(append(append([]any(nil), inner.args...), int64(trialRows)), outer.args...), rs.Limit, rs.Skip)
				p.trialLimitArg = len(inner.args)
			}
		}
		return p
	}
	p.Text = fmt.Sprintf("SELECT k.rid, d.doc FROM %s k JOIN %s d ON d.rid = k.rid WHERE %s", keys, docs, cnd.text)
	if sortable {
		p.Text += " ORDER BY " + prefixCols(order, "k.")
	}
	p.Args = cnd.args
	return p
}

// Read runs a readSpec against a collection (nil collection: nothing).
func (db *Database) Read(ctx context.Context, q *sql.Tx, c *Collection, rs ReadSpec) (*ReadResult, error) {
	res := &ReadResult{}
	if err := db.BindText(c, rs.Filter); err != nil || c == nil {
		return res, err
	}
	// By distance, or with a $text (and its scores): reads of their own.
	if rs.Near != nil {
		return db.readNear(ctx, q, c, rs)
	}
	if t := query.FindText(rs.Filter); t != nil {
		return db.readText(ctx, q, c, rs, t)
	}
	p := db.PlanRead(c, rs)
	// A deep page starts from a kept mark (marks.go) when one is true now.
	if q == nil && p.exact && p.sortable && p.trial == "" && rs.Skip >= MarkStride {
		db.Mu.RLock()
		order, _ := c.sortSQL(rs.Sort)
		db.Mu.RUnlock()
		if text, args, gen, ok := db.markedPlan(ctx, c, rs, order); ok {
			marked := p
			marked.Text, marked.Args = text, args
			res.Exact, res.SQL, res.Args = true, text, args
			if out, err := db.readExact(ctx, q, marked, rs, res); err != nil || db.counts.sameGen(c.name, gen) {
				return out, err
			}
			res = &ReadResult{} // a write moved the marks meanwhile: read plainly
		}
	}
	if err := db.pickShapeDriven(ctx, q, &p, rs); err != nil {
		return nil, err
	}
	res.Exact, res.SQL, res.Args = p.exact, p.Text, p.Args
	if p.exact && p.sortable {
		return db.readExact(ctx, q, p, rs, res)
	}
	return db.readInGo(ctx, q, p, rs, res)
}

// readExact reads a page that SQLite selects and orders entirely.
func (db *Database) readExact(ctx context.Context, q *sql.Tx, p ReadPlan, rs ReadSpec, res *ReadResult) (*ReadResult, error) {
	if rs.IDOnly {
		if docs, ok, err := db.idsFromKeys(ctx, q, p); err != nil || ok {
			res.Docs = docs
			return res, err
		}
	}
	for _, n := range trialSizes(rs.Skip + rs.Limit) {
		if p.trial == "" {
			break
		}
		args := append([]any(nil), p.trialArgs...)
		args[p.trialLimitArg] = n
		rids, err := db.queryInts(ctx, q, p.trial, args...)
		if err != nil {
			return nil, err
		}
		if int64(len(rids)) == rs.Limit {
			res.SQL, res.Args = p.trial, args
			res.Docs, err = db.docsByRid(ctx, q, p.docs, rids)
			res.Examined = int64(len(res.Docs))
			return res, err
		}
	}
	rids, err := db.queryInts(ctx, q, p.Text, p.Args...)
	if err != nil {
		return nil, err
	}
	res.Docs, err = db.docsByRid(ctx, q, p.docs, rids)
	res.Examined = int64(len(res.Docs))
	return res, err
}

// readInGo reads the rows SQLite narrows down and finishes in Go: the rest
// of the filter, and the sort when SQLite cannot order by it.
func (db *Database) readInGo(ctx context.Context, q *sql.Tx, p ReadPlan, rs ReadSpec, res *ReadResult) (*ReadResult, error) {
	rows, err := db.rows(ctx, q, p.Text, p.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var skipped int64
	for rows.Next() {
		var rid int64
		var raw []byte
		if err := rows.Scan(&rid, &raw); err != nil {
			return nil, err
		}
		res.Examined++
		doc := bsoncore.Document(raw)
		if !p.exact && !rs.Filter.Match(doc) {
			continue
		}
		if p.sortable {
			if skipped < rs.Skip {
				skipped++
				continue
			}
			res.Docs = append(res.Docs, doc)
			if rs.Limit > 0 && int64(len(res.Docs)) >= rs.Limit {
				break
			}
			continue
		}
		res.Docs = append(res.Docs, doc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !p.sortable {
		res.sortedInGo = true
		query.SortDocs(res.Docs, rs.Sort)
		if rs.Skip > 0 {
			if rs.Skip >= int64(len(res.Docs)) {
				res.Docs = nil
			} else {
				res.Docs = res.Docs[rs.Skip:]
			}
		}
		if rs.Limit > 0 && int64(len(res.Docs)) > rs.Limit {
			res.Docs = res.Docs[:rs.Limit]
		}
	}
	return res, nil
}

// idsFromKeys answers an _id-only read from the id column; ok is false
// when some _id cannot be read back from its key (then documents are read).
func (db *Database) idsFromKeys(ctx context.Context, q *sql.Tx, p ReadPlan) ([]bsoncore.Document, bool, error) {
	text := strings.Replace(strings.Replace(p.Text, "SELECT rid FROM", "SELECT id FROM", 1), "SELECT k.rid FROM", "SELECT k.id FROM", 1)
	rows, err := db.rows(ctx, q, text, p.Args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []bsoncore.Document
	for rows.Next() {
		var key []byte
		if err := rows.Scan(&key); err != nil {
			return nil, false, err
		}
		v, ok := query.DecodeKey(key)
		if !ok || query.Missing(v) {
			return nil, false, nil
		}
		out = append(out, query.BuildDoc("_id", v))
	}
	return out, true, rows.Err()
}

// Count counts what a readSpec selects, without reading documents when it can.
func (db *Database) Count(ctx context.Context, q *sql.Tx, c *Collection, rs ReadSpec) (int64, *ReadResult, error) {
	if err := db.BindText(c, rs.Filter); err != nil || c == nil {
		return 0, &ReadResult{Exact: true}, err
	}
	// A count kept with the writes answers at once; a new one is taken
	// whole (skip and limit are arithmetic on it) and kept.
	var gen uint64
	keep := q == nil && rs.FilterKey != ""
	if keep {
		n, res, found, g := db.counts.lookup(c.name, rs.FilterKey)
		if found {
			return skipLimit(n, rs.Skip, rs.Limit), res, nil
		}
		gen = g
	}
	db.Mu.RLock()
	cnd, ok := c.translate(rs.Filter)
	keys := c.keysTable()
	db.Mu.RUnlock()
	if ok && cnd.exact && keep {
		text := fmt.Sprintf("SELECT COUNT(*) FROM %s k WHERE %s", keys, cnd.text)
		st, err := db.stmt(ctx, text)
		if err != nil {
			return 0, nil, err
		}
		var n int64
		if err := st.QueryRowContext(ctx, cnd.args...).Scan(&n); err != nil {
			return 0, nil, err
		}
		res := &ReadResult{SQL: text, Args: cnd.args, Exact: true}
		db.counts.fill(c.name, rs.FilterKey, gen, &countEntry{filter: rs.Filter, n: n, res: res})
		return skipLimit(n, rs.Skip, rs.Limit), res, nil
	}
	if ok && cnd.exact {
		text := fmt.Sprintf("SELECT COUNT(*) FROM %s k WHERE %s", keys, cnd.text)
		args := cnd.args
		if rs.Skip > 0 || rs.Limit > 0 {
			lim := rs.Limit
			if lim <= 0 {
				lim = -1
			}
			text = fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s k WHERE %s LIMIT ? OFFSET ?)", keys, cnd.text)
			args = append(append([]any(nil), args...), lim, rs.Skip)
		}
		var n int64
		var err error
		if q != nil {
			err = q.QueryRowContext(ctx, text, args...).Scan(&n)
		} else {
			st, serr := db.stmt(ctx, text)
			if serr != nil {
				return 0, nil, serr
			}
			err = st.QueryRowContext(ctx, args...).Scan(&n)
		}
		return n, &ReadResult{SQL: text, Args: args, Exact: true}, err
	}
	res, err := db.Read(ctx, q, c, ReadSpec{Filter: rs.Filter, Skip: rs.Skip, Limit: rs.Limit})
	if err != nil {
		return 0, nil, err
	}
	return int64(len(res.Docs)), res, nil
}

func prefixCols(order, prefix string) string {
	parts := strings.Split(order, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}

// rows runs a query in the transaction q, or on the shared connections.
func (db *Database) rows(ctx context.Context, q *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if q != nil {
		return q.QueryContext(ctx, text, args...)
	}
	return db.query(ctx, text, args...)
}

func (db *Database) queryInts(ctx context.Context, q *sql.Tx, text string, args ...any) ([]int64, error) {
	rows, err := db.rows(ctx, q, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// docsByRid reads documents by row id, in the order of rids (one gone
// meanwhile is left out).
func (db *Database) docsByRid(ctx context.Context, q *sql.Tx, table string, rids []int64) ([]bsoncore.Document, error) {
	found, err := db.docsAt(ctx, q, table, rids)
	out := make([]bsoncore.Document, 0, len(found))
	for _, d := range found {
		if d != nil {
			out = append(out, d)
		}
	}
	return out, err
}

// docsAt reads documents by row id: found[i] is rids[i]'s, nil when it is gone.
func (db *Database) docsAt(ctx context.Context, q *sql.Tx, table string, rids []int64) ([]bsoncore.Document, error) {
	pos := make(map[int64]int, len(rids))
	for i, r := range rids {
		pos[r] = i
	}
	found := make([]bsoncore.Document, len(rids))
	for start := 0; start < len(rids); start += 500 {
		end := min(start+500, len(rids))
		chunk := rids[start:end]
		args := make([]any, len(chunk))
		for i, r := range chunk {
			args[i] = r
		}
		text := fmt.Sprintf("SELECT rid, doc FROM %s WHERE rid IN (%s)", table,
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ","))
		rows, err := db.rows(ctx, q, text, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var rid int64
			var raw []byte
			if err := rows.Scan(&rid, &raw); err != nil {
				rows.Close()
				return nil, err
			}
			found[pos[rid]] = bsoncore.Document(raw)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}
