// Reads: a filter, a sort, a skip and a limit become one SQL statement over
// the key columns. Each condition on a path that has a column (an indexed,
// non-array field, or _id) is translated; SQLite's planner then picks the
// index. When every condition translates ("exact"), SQLite also applies
// the sort, the skip, the limit and the count, so a deep page or a total
// costs index steps, not documents. Otherwise the translated part narrows
// the rows and the whole filter is checked in Go on each document.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// readSpec is what a find, a count or an aggregation's first stages read.
type readSpec struct {
	filter    query.Node
	filterKey string // the filter as sent (its BSON): what a kept count is found by
	sort      []query.SortKey
	skip      int64
	limit     int64 // 0: no limit
	idOnly    bool  // only _id is wanted: read it from the keys, not the documents
}

// readResult is the documents read and how: for explain and the profiler.
type readResult struct {
	docs       []bsoncore.Document
	sql        string
	args       []any
	exact      bool
	sortedInGo bool
	examined   int64
}

// readPlan is how a readSpec will be read: one SQL statement, and whether
// SQLite answers all of it (exact and sortable) or Go finishes the work.
type readPlan struct {
	text     string
	args     []any
	exact    bool
	sortable bool
	docs     string // the documents' table

	// trial: the same page read along the sort's own index (the equality
	// terms only) through its first N entries, the other terms checked on
	// those (N the first argument): see trialSizes.
	trial         string
	trialArgs     []any
	trialLimitArg int // the index in trialArgs of the walk's length
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
// eight or more matches, as with a type filter — then long.
const trialRows = 2000

func trialSizes(pageEnd int64) []int64 {
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
// that index in page order); other, the terms checked on the walk. Without
// such an index: every equality, and the other terms.
func (c *collection) trialSplit(terms []cond, keys []query.SortKey) (eq, other []cond) {
	var first string
	if len(keys) > 0 {
		first, _ = c.column(keys[0].Path)
	}
	for _, ix := range c.indexes {
		var lead []cond
		used := map[int]bool{}
		for _, k := range ix.keys {
			col, ok := c.column(k.path)
			if !ok {
				break
			}
			if col == first {
				for i, t := range terms {
					if !used[i] {
						other = append(other, t)
					}
				}
				return lead, other
			}
			found := -1
			for i, t := range terms {
				if t.eq && t.col == col && !used[i] {
					found = i
					break
				}
			}
			if found < 0 {
				break
			}
			used[found] = true
			lead = append(lead, terms[found])
		}
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

func (db *database) planRead(c *collection, rs readSpec) readPlan {
	db.mu.RLock()
	cnd, ok := c.translate(rs.filter)
	order, sortable := c.sortSQL(rs.sort)
	keys, docs := c.keysTable(), c.docsTable()
	eq, other := c.trialSplit(cnd.parts, rs.sort)
	db.mu.RUnlock()
	if !ok {
		cnd = cond{text: "1"}
	}
	p := readPlan{exact: cnd.exact, sortable: sortable, docs: docs}
	if cnd.exact && sortable {
		// Everything in SQLite: the keys pick the page, then its documents are read.
		p.text = fmt.Sprintf("SELECT rid FROM %s WHERE %s ORDER BY %s", keys, cnd.text, order)
		p.args = append([]any(nil), cnd.args...)
		if rs.limit > 0 || rs.skip > 0 {
			lim := rs.limit
			if lim <= 0 {
				lim = -1
			}
			p.text += " LIMIT ? OFFSET ?"
			p.args = append(p.args, lim, rs.skip)
		}
		if rs.limit > 0 && rs.skip+rs.limit <= trialRows/4 && len(rs.sort) > 0 && rs.sort[0].Path != "$natural" {
			// Equalities alone SQLite plans well: it walks the sort's index
			// and checks them on the way, stopping at the page's end.
			ranged := false
			for _, t := range other {
				ranged = ranged || !t.eq
			}
			if ranged {
				inner := conjunction(eq, true)
				if len(eq) == 0 {
					inner = cond{text: "1"}
				}
				outer := conjunction(other, true)
				p.trial = fmt.Sprintf("SELECT rid FROM (SELECT * FROM %s WHERE %s ORDER BY %s LIMIT ?) WHERE %s ORDER BY %s "+
					"LIMIT ? OFFSET ?", keys, inner.text, order, outer.text, order)
				p.trialArgs = append(append(append(append([]any(nil), inner.args...), int64(trialRows)), outer.args...), rs.limit, rs.skip)
				p.trialLimitArg = len(inner.args)
			}
		}
		return p
	}
	p.text = fmt.Sprintf("SELECT k.rid, d.doc FROM %s k JOIN %s d ON d.rid = k.rid WHERE %s", keys, docs, cnd.text)
	if sortable {
		p.text += " ORDER BY " + prefixCols(order, "k.")
	}
	p.args = cnd.args
	return p
}

// read runs a readSpec against a collection (nil collection: nothing).
func (db *database) read(ctx context.Context, q *sql.Tx, c *collection, rs readSpec) (*readResult, error) {
	res := &readResult{}
	if c == nil {
		return res, nil
	}
	p := db.planRead(c, rs)
	// A deep page starts from a kept mark (marks.go) when one is true now.
	if q == nil && p.exact && p.sortable && p.trial == "" && rs.skip >= markStride {
		db.mu.RLock()
		order, _ := c.sortSQL(rs.sort)
		db.mu.RUnlock()
		if text, args, gen, ok := db.markedPlan(ctx, c, rs, order); ok {
			marked := p
			marked.text, marked.args = text, args
			res.exact, res.sql, res.args = true, text, args
			if out, err := db.readExact(ctx, q, marked, rs, res); err != nil || db.counts.sameGen(c.name, gen) {
				return out, err
			}
			res = &readResult{} // a write moved the marks meanwhile: read plainly
		}
	}
	res.exact, res.sql, res.args = p.exact, p.text, p.args
	if p.exact && p.sortable {
		return db.readExact(ctx, q, p, rs, res)
	}
	return db.readInGo(ctx, q, p, rs, res)
}

// readExact reads a page that SQLite selects and orders entirely.
func (db *database) readExact(ctx context.Context, q *sql.Tx, p readPlan, rs readSpec, res *readResult) (*readResult, error) {
	if rs.idOnly {
		if docs, ok, err := db.idsFromKeys(ctx, q, p); err != nil || ok {
			res.docs = docs
			return res, err
		}
	}
	for _, n := range trialSizes(rs.skip + rs.limit) {
		if p.trial == "" {
			break
		}
		args := append([]any(nil), p.trialArgs...)
		args[p.trialLimitArg] = n
		rids, err := db.queryInts(ctx, q, p.trial, args...)
		if err != nil {
			return nil, err
		}
		if int64(len(rids)) == rs.limit {
			res.sql, res.args = p.trial, args
			res.docs, err = db.docsByRid(ctx, q, p.docs, rids)
			res.examined = int64(len(res.docs))
			return res, err
		}
	}
	rids, err := db.queryInts(ctx, q, p.text, p.args...)
	if err != nil {
		return nil, err
	}
	res.docs, err = db.docsByRid(ctx, q, p.docs, rids)
	res.examined = int64(len(res.docs))
	return res, err
}

// readInGo reads the rows SQLite narrows down and finishes in Go: the rest
// of the filter, and the sort when SQLite cannot order by it.
func (db *database) readInGo(ctx context.Context, q *sql.Tx, p readPlan, rs readSpec, res *readResult) (*readResult, error) {
	rows, err := db.rows(ctx, q, p.text, p.args...)
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
		res.examined++
		doc := bsoncore.Document(raw)
		if !p.exact && !rs.filter.Match(doc) {
			continue
		}
		if p.sortable {
			if skipped < rs.skip {
				skipped++
				continue
			}
			res.docs = append(res.docs, doc)
			if rs.limit > 0 && int64(len(res.docs)) >= rs.limit {
				break
			}
			continue
		}
		res.docs = append(res.docs, doc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !p.sortable {
		res.sortedInGo = true
		query.SortDocs(res.docs, rs.sort)
		if rs.skip > 0 {
			if rs.skip >= int64(len(res.docs)) {
				res.docs = nil
			} else {
				res.docs = res.docs[rs.skip:]
			}
		}
		if rs.limit > 0 && int64(len(res.docs)) > rs.limit {
			res.docs = res.docs[:rs.limit]
		}
	}
	return res, nil
}

// idsFromKeys answers an _id-only read from the id column; ok is false
// when some _id cannot be read back from its key (then documents are read).
func (db *database) idsFromKeys(ctx context.Context, q *sql.Tx, p readPlan) ([]bsoncore.Document, bool, error) {
	text := strings.Replace(p.text, "SELECT rid FROM", "SELECT id FROM", 1)
	rows, err := db.rows(ctx, q, text, p.args...)
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

// count counts what a readSpec selects, without reading documents when it can.
func (db *database) count(ctx context.Context, q *sql.Tx, c *collection, rs readSpec) (int64, *readResult, error) {
	if c == nil {
		return 0, &readResult{exact: true}, nil
	}
	// A count kept with the writes answers at once; a new one is taken
	// whole (skip and limit are arithmetic on it) and kept.
	var gen uint64
	keep := q == nil && rs.filterKey != ""
	if keep {
		n, res, found, g := db.counts.lookup(c.name, rs.filterKey)
		if found {
			return skipLimit(n, rs.skip, rs.limit), res, nil
		}
		gen = g
	}
	db.mu.RLock()
	cnd, ok := c.translate(rs.filter)
	keys := c.keysTable()
	db.mu.RUnlock()
	if ok && cnd.exact && keep {
		text := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", keys, cnd.text)
		st, err := db.stmt(ctx, text)
		if err != nil {
			return 0, nil, err
		}
		var n int64
		if err := st.QueryRowContext(ctx, cnd.args...).Scan(&n); err != nil {
			return 0, nil, err
		}
		res := &readResult{sql: text, args: cnd.args, exact: true}
		db.counts.fill(c.name, rs.filterKey, gen, &countEntry{filter: rs.filter, n: n, res: res})
		return skipLimit(n, rs.skip, rs.limit), res, nil
	}
	if ok && cnd.exact {
		text := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", keys, cnd.text)
		args := cnd.args
		if rs.skip > 0 || rs.limit > 0 {
			lim := rs.limit
			if lim <= 0 {
				lim = -1
			}
			text = fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT ? OFFSET ?)", keys, cnd.text)
			args = append(append([]any(nil), args...), lim, rs.skip)
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
		return n, &readResult{sql: text, args: args, exact: true}, err
	}
	res, err := db.read(ctx, q, c, readSpec{filter: rs.filter, skip: rs.skip, limit: rs.limit})
	if err != nil {
		return 0, nil, err
	}
	return int64(len(res.docs)), res, nil
}

func prefixCols(order, prefix string) string {
	parts := strings.Split(order, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}

// rows runs a query in the transaction q, or on the shared connections.
func (db *database) rows(ctx context.Context, q *sql.Tx, text string, args ...any) (*sql.Rows, error) {
	if q != nil {
		return q.QueryContext(ctx, text, args...)
	}
	return db.query(ctx, text, args...)
}

func (db *database) queryInts(ctx context.Context, q *sql.Tx, text string, args ...any) ([]int64, error) {
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

// docsByRid reads documents by row id, in the order of rids.
func (db *database) docsByRid(ctx context.Context, q *sql.Tx, table string, rids []int64) ([]bsoncore.Document, error) {
	out := make([]bsoncore.Document, 0, len(rids))
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
	for _, d := range found {
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}
