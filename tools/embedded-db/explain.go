// Explain and the profiler. Both tell what SQLite did, read from
// EXPLAIN QUERY PLAN and put in MongoDB's words: an index SQLite searches
// or scans is an IXSCAN of the MongoDB index it was made for, a plain
// table scan is a COLLSCAN, and a sort SQLite had to do itself is a SORT.
// A test can therefore profile Roost's requests (db.setProfilingLevel(2)
// and system.profile, as on a real MongoDB) and check that none scanned a
// collection.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"roost.local/embedded-db/internal/query"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// planStep is one line of EXPLAIN QUERY PLAN, read.
type planStep struct {
	stage string // IXSCAN, COLLSCAN, SORT, FETCH
	index *index // for IXSCAN of a secondary index
	idIdx bool   // IXSCAN of the _id index
}

var usingIndex = regexp.MustCompile(`(?:SEARCH|SCAN) (\w+)(?: AS \w+)? USING (?:COVERING )?INDEX (\w+)`)
var scanTable = regexp.MustCompile(`^SCAN (\w+)(?: AS \w+)?$`)

// sqlPlan asks SQLite how it runs `text` on c's tables.
func (db *database) sqlPlan(ctx context.Context, c *collection, text string, args []any) ([]planStep, []string, error) {
	rows, err := db.sql.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var steps []planStep
	var details []string
	keys := c.keysTable()
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, nil, err
		}
		details = append(details, detail)
		switch {
		case strings.Contains(detail, "USE TEMP B-TREE FOR"):
			steps = append(steps, planStep{stage: "SORT"})
		case usingIndex.MatchString(detail):
			m := usingIndex.FindStringSubmatch(detail)
			if m[1] != keys && !strings.HasPrefix(m[1], "k") {
				continue
			}
			if strings.HasPrefix(m[2], "sqlite_autoindex_") {
				steps = append(steps, planStep{stage: "IXSCAN", idIdx: true})
			} else if ix := c.indexBySQLName(m[2]); ix != nil {
				steps = append(steps, planStep{stage: "IXSCAN", index: ix})
			}
		case scanTable.MatchString(detail):
			m := scanTable.FindStringSubmatch(detail)
			if m[1] == keys || m[1] == "k" {
				steps = append(steps, planStep{stage: "COLLSCAN"})
			}
		}
	}
	return steps, details, rows.Err()
}

func keyPattern(st planStep) bsoncore.Document {
	if st.idIdx || st.index == nil {
		return query.BuildDoc("_id", query.VInt32(1))
	}
	var kv []any
	for _, k := range st.index.keys {
		kv = append(kv, k.path, query.VInt32(int32(k.dir)))
	}
	return query.BuildDoc(kv...)
}

func indexName(st planStep) string {
	if st.idIdx || st.index == nil {
		return "_id_"
	}
	return st.index.name
}

// planSummary: "IXSCAN { city_key: 1 }" or "COLLSCAN", as the profiler writes it.
func planSummary(steps []planStep) string {
	var parts []string
	for _, st := range steps {
		switch st.stage {
		case "IXSCAN":
			var keys []string
			for _, k := range st.keys() {
				keys = append(keys, fmt.Sprintf("%s: %d", k.path, k.dir))
			}
			parts = append(parts, "IXSCAN { "+strings.Join(keys, ", ")+" }")
		case "COLLSCAN":
			parts = append(parts, "COLLSCAN")
		}
	}
	if len(parts) == 0 {
		return "COLLSCAN"
	}
	return strings.Join(parts, ", ")
}

func (st planStep) keys() []indexKey {
	if st.idIdx || st.index == nil {
		return []indexKey{{path: "_id", dir: 1}}
	}
	return st.index.keys
}

// winningPlan builds a MongoDB-shaped plan tree from the steps.
func winningPlan(steps []planStep, fetch bool) bsoncore.Document {
	var leaves []bsoncore.Value
	sorted := false
	for _, st := range steps {
		switch st.stage {
		case "IXSCAN":
			leaves = append(leaves, query.VDoc(query.BuildDoc("stage", query.VString("IXSCAN"), "keyPattern", query.VDoc(keyPattern(st)),
				"indexName", query.VString(indexName(st)))))
		case "COLLSCAN":
			leaves = append(leaves, query.VDoc(query.BuildDoc("stage", query.VString("COLLSCAN"))))
		case "SORT":
			sorted = true
		}
	}
	var plan bsoncore.Document
	switch len(leaves) {
	case 0:
		plan = query.BuildDoc("stage", query.VString("COLLSCAN"))
	case 1:
		plan = leaves[0].Document()
	default:
		plan = query.BuildDoc("stage", query.VString("OR"), "inputStages", query.VArray(leaves))
	}
	if fetch && plan.Lookup("stage").StringValue() != "COLLSCAN" {
		plan = query.BuildDoc("stage", query.VString("FETCH"), "inputStage", query.VDoc(plan))
	}
	if sorted {
		plan = query.BuildDoc("stage", query.VString("SORT"), "inputStage", query.VDoc(plan))
	}
	return plan
}

// explainOf answers explain for one read.
func (s *server) explainOf(ctx context.Context, db *database, c *collection, ns, text string, args []any, fetch bool) (bsoncore.Document, error) {
	plan := query.BuildDoc("stage", query.VString("EOF"))
	var details []bsoncore.Value
	if db != nil && c != nil && text != "" {
		steps, lines, err := db.sqlPlan(ctx, c, text, args)
		if err != nil {
			return nil, err
		}
		plan = winningPlan(steps, fetch)
		for _, l := range lines {
			details = append(details, query.VString(l))
		}
	}
	return okDoc(
		"queryPlanner", query.VDoc(query.BuildDoc("namespace", query.VString(ns), "winningPlan", query.VDoc(plan), "rejectedPlans", query.VArray(nil))),
		"roost", query.VDoc(query.BuildDoc("sql", query.VString(text), "sqlitePlan", query.VArray(details))),
		"serverInfo", query.VDoc(query.BuildDoc("version", query.VString("6.0.0"), "gitVersion", query.VString("roost-embedded-db"))),
	), nil
}

func cmdExplain(ctx context.Context, s *server, r *request) (bsoncore.Document, error) {
	inner, ok := r.arg("explain").DocumentOK()
	if !ok {
		return nil, query.BadValue("explain needs a command document")
	}
	first, err := inner.IndexErr(0)
	if err != nil {
		return nil, query.BadValue("explain needs a command")
	}
	ir := &request{db: r.db, cmd: inner, name: first.Key(), conn: r.conn}
	name, db, c, err := s.existing(ir)
	if err != nil {
		return nil, err
	}
	ns := r.db + "." + name
	switch ir.name {
	case "find", "count":
		filterName := "filter"
		if ir.name == "count" {
			filterName = "query"
		}
		rs, err := findSpec(ir, filterName)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return s.explainOf(ctx, nil, nil, ns, "", nil, false)
		}
		if ir.name == "count" {
			if _, res, err := db.count(ctx, nil, c, rs); err == nil && res.sql != "" && strings.Contains(res.sql, "COUNT") {
				return s.explainOf(ctx, db, c, ns, res.sql, res.args, false)
			}
		}
		p := db.planRead(c, rs)
		return s.explainOf(ctx, db, c, ns, p.text, p.args, true)
	case "aggregate":
		stages, err := parsePipeline(ir.arg("pipeline"))
		if err != nil {
			return nil, err
		}
		return s.explainAggregate(ctx, db, c, ns, stages)
	case "distinct", "update", "delete", "findAndModify":
		return nil, query.NotSupported("explain of " + ir.name)
	}
	return nil, query.NotSupported("explain of " + ir.name)
}

func (s *server) explainAggregate(ctx context.Context, db *database, c *collection, ns string, stages []stage) (bsoncore.Document, error) {
	if db == nil || c == nil {
		return s.explainOf(ctx, nil, nil, ns, "", nil, false)
	}
	_, res, err := s.aggregate(ctx, db, c, stages)
	if err != nil {
		return nil, err
	}
	return s.explainOf(ctx, db, c, ns, res.sql, res.args, !strings.Contains(res.sql, "COUNT("))
}

// profile records one operation in <db>.system.profile when the database's
// profiling level is 2: what ran, how (planSummary), how many documents.
func (s *server) profile(ctx context.Context, db *database, r *request, res *readResult, nreturned int64) {
	db.profileMu.Lock()
	level := db.profileLevel
	db.profileMu.Unlock()
	if level < 2 {
		return
	}
	coll, _ := r.cmd.Lookup(r.name).StringValueOK()
	if coll == "system.profile" {
		return
	}
	op := map[string]string{"find": "query", "insert": "insert", "update": "update", "delete": "remove"}[r.name]
	if op == "" {
		op = "command"
	}
	kv := []any{"op", query.VString(op), "ns", query.VString(r.db + "." + coll), "command", query.VDoc(r.cmd)}
	if res != nil && res.sql != "" {
		if c := db.collection(coll); c != nil {
			steps, _, err := db.sqlPlan(ctx, c, res.sql, res.args)
			if err == nil {
				kv = append(kv, "planSummary", query.VString(planSummary(steps)))
			}
		}
		kv = append(kv, "docsExamined", query.VInt64(res.examined))
	}
	kv = append(kv, "nreturned", query.VInt64(nreturned), "millis", query.VInt64(time.Since(r.started).Milliseconds()),
		"ts", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())})
	entry, err := prepareInsert(query.BuildDoc(kv...))
	if err != nil {
		return
	}
	err = db.inWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.createCollection(ctx, tx, "system.profile")
		if err != nil {
			return err
		}
		return db.insertDoc(ctx, tx, c, entry)
	})
	if err != nil {
		s.log.Warn("profiler", "err", err)
	}
}
