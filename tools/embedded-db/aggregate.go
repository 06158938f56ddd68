// Aggregation: $match, $sort, $skip, $limit, $project, $addFields/$set,
// $unset, $unwind, $group, $count and $replaceRoot, over field-path
// expressions and literals. The leading $match/$sort/$skip/$limit run as
// one indexed read (plan.go); a count ($group {_id: <constant>, n: {$sum:
// 1}} or $count right after them) and a $group on an indexed field's
// values with $sum: 1 run as SQL aggregates, reading no documents.
package main

import (
	"context"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type stage struct {
	name string
	arg  bsoncore.Value
}

func parsePipeline(v bsoncore.Value) ([]stage, error) {
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, query.Errorf(14, "TypeMismatch", "'pipeline' must be an array")
	}
	vals, _ := arr.Values()
	var out []stage
	for _, v := range vals {
		d, ok := v.DocumentOK()
		elems, _ := d.Elements()
		if !ok || len(elems) != 1 {
			return nil, query.Errorf(40323, "Location40323", "a pipeline stage specification object must contain exactly one field")
		}
		out = append(out, stage{name: elems[0].Key(), arg: elems[0].Value()})
	}
	return out, nil
}

func cmdAggregate(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	name, ok := r.arg("aggregate").StringValueOK()
	if !ok {
		return nil, query.NotSupported("aggregate: 1 (database-level aggregation)")
	}
	stages, err := parsePipeline(r.arg("pipeline"))
	if err != nil {
		return nil, err
	}
	db, c, err := s.lookup(r.db, name)
	if err != nil {
		return nil, err
	}
	if query.Truthy(r.arg("explain")) {
		return s.explainAggregate(ctx, db, c, r.db+"."+name, stages)
	}
	docs, res, err := s.aggregate(ctx, db, c, stages)
	if err != nil {
		return nil, err
	}
	if db != nil {
		s.profile(ctx, db, r, res, int64(len(docs)))
	}
	return s.cursorReply(r, r.db+"."+name, docs, 0, false)
}

// leadingRead takes the $match, $sort, $skip and $limit stages that one
// read can answer; it returns the read and the stages left.
func leadingRead(stages []stage) (readSpec, []stage, error) {
	rs := readSpec{filter: query.TrueNode{}, filterKey: string(emptyDoc)}
	matched, sorted := false, false
	i := 0
	for ; i < len(stages); i++ {
		st := stages[i]
		switch st.name {
		case "$match":
			if matched || sorted || rs.skip > 0 || rs.limit > 0 {
				return rs, stages[i:], nil
			}
			d, ok := st.arg.DocumentOK()
			if !ok {
				return rs, nil, query.Errorf(15959, "Location15959", "the match filter must be an expression in an object")
			}
			n, err := query.CompileFilter(d)
			if err != nil {
				return rs, nil, err
			}
			rs.filter, rs.filterKey, matched = n, string(d), true
		case "$sort":
			if sorted || rs.skip > 0 || rs.limit > 0 {
				return rs, stages[i:], nil
			}
			d, _ := st.arg.DocumentOK()
			keys, _, err := query.ParseSort(d)
			if err != nil {
				return rs, nil, err
			}
			if len(keys) == 0 {
				return rs, nil, query.Errorf(15976, "Location15976", "$sort stage must have at least one sort key")
			}
			rs.sort, sorted = keys, true
		case "$skip":
			n, ok := query.Integer(st.arg)
			if !ok || n < 0 || rs.limit > 0 {
				if !ok || n < 0 {
					return rs, nil, query.BadValue("$skip needs a non-negative number")
				}
				return rs, stages[i:], nil
			}
			rs.skip += n
		case "$limit":
			n, ok := query.Integer(st.arg)
			if !ok || n <= 0 {
				return rs, nil, query.BadValue("$limit needs a positive number")
			}
			if rs.limit == 0 || n < rs.limit {
				rs.limit = n
			}
		default:
			return rs, stages[i:], nil
		}
	}
	return rs, stages[i:], nil
}

// aggregate runs a pipeline: the documents it outputs and how they were read.
func (s *server) aggregate(ctx context.Context, db *database, c *collection, stages []stage) ([]bsoncore.Document, *readResult, error) {
	rs, rest, err := leadingRead(stages)
	if err != nil {
		return nil, nil, err
	}
	if db == nil || c == nil {
		docs, err := runStages(nil, rest)
		return docs, &readResult{exact: true}, err
	}
	// A count: $count, or $group by a constant with only {$sum: 1}s.
	if len(rest) > 0 && countStage(rest[0]) {
		n, res, err := db.count(ctx, nil, c, rs)
		if err != nil {
			return nil, nil, err
		}
		var out []bsoncore.Document
		if n > 0 {
			out = []bsoncore.Document{countOutput(rest[0], n)}
		}
		out, err = runStages(out, rest[1:])
		return out, res, err
	}
	// A $group on an indexed field with only {$sum: 1}s, after a plain $match.
	if len(rest) > 0 && len(rs.sort) == 0 && rs.skip == 0 && rs.limit == 0 {
		if out, res, ok, err := db.groupCount(ctx, c, rs, rest[0]); err != nil || ok {
			if err != nil {
				return nil, nil, err
			}
			out, err = runStages(out, rest[1:])
			return out, res, err
		}
	}
	res, err := db.read(ctx, nil, c, rs)
	if err != nil {
		return nil, nil, err
	}
	out, err := runStages(res.docs, rest)
	return out, res, err
}

// sumOnes: a $group's accumulators are all {$sum: 1}.
func sumOnes(group bsoncore.Document) ([]string, bool) {
	elems, _ := group.Elements()
	var names []string
	for _, e := range elems {
		if e.Key() == "_id" {
			continue
		}
		acc, ok := e.Value().DocumentOK()
		if !ok {
			return nil, false
		}
		sum, err := acc.LookupErr("$sum")
		n, isInt := query.Integer(sum)
		if err != nil || !isInt || n != 1 {
			return nil, false
		}
		names = append(names, e.Key())
	}
	return names, true
}

func countStage(st stage) bool {
	if st.name == "$count" {
		_, ok := st.arg.StringValueOK()
		return ok
	}
	if st.name != "$group" {
		return false
	}
	g, ok := st.arg.DocumentOK()
	if !ok {
		return false
	}
	id := g.Lookup("_id")
	if s, isStr := id.StringValueOK(); (isStr && strings.HasPrefix(s, "$")) || id.Type == bsoncore.TypeEmbeddedDocument {
		return false
	}
	_, ok = sumOnes(g)
	return ok
}

func countOutput(st stage, n int64) bsoncore.Document {
	if st.name == "$count" {
		name, _ := st.arg.StringValueOK()
		return query.BuildDoc(name, countValue(n))
	}
	g, _ := st.arg.DocumentOK()
	names, _ := sumOnes(g)
	kv := []any{"_id", g.Lookup("_id")}
	if query.Missing(g.Lookup("_id")) {
		kv[1] = query.VNull()
	}
	for _, name := range names {
		kv = append(kv, name, countValue(n))
	}
	return query.BuildDoc(kv...)
}

// countValue: int32 when it fits, as MongoDB's $sum of int32 ones gives.
func countValue(n int64) bsoncore.Value {
	if n <= 2147483647 {
		return query.VInt32(int32(n))
	}
	return query.VInt64(n)
}

// groupCount answers a $group by an indexed field with only {$sum: 1}s
// from the keys (kept with the writes after the first time, counts.go);
// ok is false when it cannot.
func (db *database) groupCount(ctx context.Context, c *collection, rs readSpec, st stage) (out []bsoncore.Document, res *readResult, ok bool, err error) {
	if st.name != "$group" {
		return nil, nil, false, nil
	}
	g, isDoc := st.arg.DocumentOK()
	if !isDoc {
		return nil, nil, false, nil
	}
	path, isStr := g.Lookup("_id").StringValueOK()
	names, sums := sumOnes(g)
	if !isStr || !strings.HasPrefix(path, "$") || !sums {
		return nil, nil, false, nil
	}
	cacheKey := "$group\x00" + string(g) + "\x00" + rs.filterKey
	groups, res, found, gen := db.counts.lookupGroups(c.name, cacheKey)
	if !found {
		db.mu.RLock()
		col, hasCol := c.column(path[1:])
		cnd, translated := c.translate(rs.filter)
		keys := c.keysTable()
		db.mu.RUnlock()
		if !hasCol || !translated || !cnd.exact {
			return nil, nil, false, nil
		}
		text := fmt.Sprintf("SELECT %s, COUNT(*) FROM %s WHERE %s GROUP BY %s", col, keys, cnd.text, col)
		if groups, err = db.groupRows(ctx, text, cnd.args); err != nil || groups == nil {
			return nil, nil, false, err
		}
		res = &readResult{sql: text, args: cnd.args, exact: true}
		kept := &countEntry{filter: rs.filter, res: res, groups: make(map[string]int64, len(groups)), parts: query.SplitPath(path[1:])}
		for k, n := range groups {
			kept.groups[k] = n
			kept.n += n
		}
		db.counts.fill(c.name, cacheKey, gen, kept)
	}
	order := make([]string, 0, len(groups))
	for k := range groups {
		order = append(order, k)
	}
	sort.Strings(order)
	for _, k := range order {
		v, _ := query.DecodeKey([]byte(k))
		kv := []any{"_id", v}
		for _, name := range names {
			kv = append(kv, name, countValue(groups[k]))
		}
		out = append(out, query.BuildDoc(kv...))
	}
	return out, res, true, nil
}

// groupRows reads "SELECT key, COUNT(*) ... GROUP BY key" into counts per
// group (groupKey); nil when some key does not say its value (then the
// documents are read instead).
func (db *database) groupRows(ctx context.Context, text string, args []any) (map[string]int64, error) {
	rows, err := db.query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	groups := map[string]int64{}
	for rows.Next() {
		var key []byte
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		k, ok := groupKey(key)
		if !ok {
			return nil, nil
		}
		groups[k] += n
	}
	return groups, rows.Err()
}
