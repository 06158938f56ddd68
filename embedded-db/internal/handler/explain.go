// Explain and the profiler. Both tell what SQLite did, read from
// EXPLAIN QUERY PLAN and put in MongoDB's words: an index SQLite searches
// or scans is an IXSCAN of the MongoDB index it was made for, a plain
// table scan is a COLLSCAN, and a sort SQLite had to do itself is a SORT.
// A test can therefore profile Roost's requests (db.setProfilingLevel(2)
// and system.profile, as on a real MongoDB) and check that none scanned a
// collection.
package handler

import (
	"context"
	"database/sql"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// explainOf answers explain for one read.
func (s *Handler) explainOf(ctx context.Context, db *storage.Database, c *storage.Collection, ns, text string, args []any, fetch bool) (bsoncore.Document, error) {
	plan := query.BuildDoc("stage", query.VString("EOF"))
	var details []bsoncore.Value
	if db != nil && c != nil && text != "" {
		steps, lines, err := db.SQLPlan(ctx, c, text, args)
		if err != nil {
			return nil, err
		}
		plan = storage.WinningPlan(steps, fetch)
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

func cmdExplain(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
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
			if _, res, err := db.Count(ctx, nil, c, rs); err == nil && res.SQL != "" && strings.Contains(res.SQL, "COUNT") {
				return s.explainOf(ctx, db, c, ns, res.SQL, res.Args, false)
			}
		}
		p, err := db.PlanReadAt(ctx, c, rs)
		if err != nil {
			return nil, err
		}
		return s.explainOf(ctx, db, c, ns, p.Text, p.Args, true)
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

func (s *Handler) explainAggregate(ctx context.Context, db *storage.Database, c *storage.Collection, ns string, stages []stage) (bsoncore.Document, error) {
	if db == nil || c == nil {
		return s.explainOf(ctx, nil, nil, ns, "", nil, false)
	}
	_, res, err := s.aggregate(ctx, db, c, stages)
	if err != nil {
		return nil, err
	}
	return s.explainOf(ctx, db, c, ns, res.SQL, res.Args, !strings.Contains(res.SQL, "COUNT("))
}

// profile records one operation in <db>.system.profile when the database's
// profiling level is 2: what ran, how (planSummary), how many documents.
func (s *Handler) profile(ctx context.Context, db *storage.Database, r *request, res *storage.ReadResult, nreturned int64) {
	if db.ProfileLevel() < 2 {
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
	if res != nil && res.SQL != "" {
		if c := db.Collection(coll); c != nil {
			steps, _, err := db.SQLPlan(ctx, c, res.SQL, res.Args)
			if err == nil {
				kv = append(kv, "planSummary", query.VString(storage.PlanSummary(steps)))
			}
		}
		kv = append(kv, "docsExamined", query.VInt64(res.Examined))
	}
	kv = append(kv, "nreturned", query.VInt64(nreturned), "millis", query.VInt64(time.Since(r.started).Milliseconds()),
		"ts", bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, time.Now().UnixMilli())})
	entry, err := storage.PrepareInsert(query.BuildDoc(kv...))
	if err != nil {
		return
	}
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, "system.profile")
		if err != nil {
			return err
		}
		return db.InsertDoc(ctx, tx, c, entry)
	})
	if err != nil {
		s.log.Warn("profiler", "err", err)
	}
}
