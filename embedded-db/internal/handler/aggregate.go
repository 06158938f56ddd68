// Aggregation: a leading $geoNear (geonear.go), $match, $sort, $skip, $limit, $project, $addFields/$set,
// $unset, $unwind, $group, $count and $replaceRoot, over field-path
// expressions and literals. The leading $match/$sort/$skip/$limit run as
// one indexed read (storage/plan.go); a count ($group {_id: <constant>, n: {$sum:
// 1}} or $count right after them) and a $group on an indexed field's
// values with $sum: 1 run as SQL aggregates, reading no documents.
package handler

import (
	"context"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
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

func cmdAggregate(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
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
func leadingRead(stages []stage) (storage.ReadSpec, []stage, error) {
	rs := storage.ReadSpec{Filter: query.TrueNode{}, FilterKey: string(storage.EmptyDoc)}
	matched, sorted := false, false
	i := 0
	for ; i < len(stages); i++ {
		st := stages[i]
		switch st.name {
		case "$match":
			if matched || sorted || rs.Skip > 0 || rs.Limit > 0 {
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
			rs.Filter, rs.FilterKey, matched = n, string(d), true
		case "$sort":
			if sorted || rs.Skip > 0 || rs.Limit > 0 {
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
			if query.HasMeta(keys) && (rs.Filter == nil || query.FindText(rs.Filter) == nil) {
				return rs, nil, query.Errorf(40218, "Location40218", "query requires text score metadata, but it is not available")
			}
			rs.Sort, sorted = keys, true
		case "$skip":
			n, ok := query.Integer(st.arg)
			if !ok || n < 0 || rs.Limit > 0 {
				if !ok || n < 0 {
					return rs, nil, query.BadValue("$skip needs a non-negative number")
				}
				return rs, stages[i:], nil
			}
			rs.Skip += n
		case "$limit":
			n, ok := query.Integer(st.arg)
			if !ok || n <= 0 {
				return rs, nil, query.BadValue("$limit needs a positive number")
			}
			if rs.Limit == 0 || n < rs.Limit {
				rs.Limit = n
			}
		default:
			return rs, stages[i:], nil
		}
	}
	return rs, stages[i:], nil
}

// aggregate runs a pipeline: the documents it outputs and how they were read.
func (s *Handler) aggregate(ctx context.Context, db *storage.Database, c *storage.Collection, stages []stage) ([]bsoncore.Document, *storage.ReadResult, error) {
	for i, st := range stages {
		if st.name == "$geoNear" && i > 0 {
			return nil, nil, query.Errorf(40603, "Location40603", "$geoNear is only valid as the first stage in a pipeline")
		}
	}
	if len(stages) > 0 && stages[0].name == "$geoNear" {
		if db == nil || c == nil {
			return nil, &storage.ReadResult{Exact: true}, nil
		}
		skip, limit, rest := pageAfterGeoNear(stages[1:])
		docs, res, paged, err := s.geoNear(ctx, db, c, stages[0].arg, skip, limit)
		if err != nil {
			return nil, nil, err
		}
		if !paged { // a minDistance: the stages cut the page after it
			rest = stages[1:]
		}
		docs, err = runStages(docs, rest)
		return docs, res, err
	}
	rs, rest, err := leadingRead(stages)
	if err != nil {
		return nil, nil, err
	}
	if db == nil || c == nil {
		docs, err := runStages(nil, rest)
		return docs, &storage.ReadResult{Exact: true}, err
	}
	// A count: $count, or $group by a constant with only {$sum: 1}s.
	if len(rest) > 0 && countStage(rest[0]) {
		n, res, err := db.Count(ctx, nil, c, rs)
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
	if len(rest) > 0 && len(rs.Sort) == 0 && rs.Skip == 0 && rs.Limit == 0 {
		if out, res, ok, err := groupCount(ctx, db, c, rs, rest[0]); err != nil || ok {
			if err != nil {
				return nil, nil, err
			}
			out, err = runStages(out, rest[1:])
			return out, res, err
		}
	}
	res, err := db.Read(ctx, nil, c, rs)
	if err != nil {
		return nil, nil, err
	}
	out, err := runStages(res.Docs, rest)
	return out, res, err
}

// pageAfterGeoNear takes a $skip then a $limit (either or both) right after
// a $geoNear, which its read applies: the skip, the limit (0: none) and the
// stages left.
func pageAfterGeoNear(stages []stage) (skip, limit int64, rest []stage) {
	rest = stages
	if len(rest) > 0 && rest[0].name == "$skip" {
		if n, ok := query.Integer(rest[0].arg); ok && n >= 0 {
			skip, rest = n, rest[1:]
		}
	}
	if len(rest) > 0 && rest[0].name == "$limit" {
		if n, ok := query.Integer(rest[0].arg); ok && n > 0 {
			limit, rest = n, rest[1:]
		}
	}
	return skip, limit, rest
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
// from the keys (storage's GroupCounts); ok is false when it cannot.
func groupCount(ctx context.Context, db *storage.Database, c *storage.Collection, rs storage.ReadSpec, st stage) (out []bsoncore.Document, res *storage.ReadResult, ok bool, err error) {
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
	groups, res, ok, err := db.GroupCounts(ctx, c, rs, path[1:])
	if err != nil || !ok {
		return nil, nil, false, err
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
