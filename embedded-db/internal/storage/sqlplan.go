// What SQLite did, in MongoDB's words: EXPLAIN QUERY PLAN read into plan
// steps. An index SQLite searches or scans is an IXSCAN of the MongoDB
// index it was made for, a plain table scan is a COLLSCAN, and a sort
// SQLite had to do itself is a SORT. Explain and the profiler
// (explain.go) print them.
package storage

import (
	"context"
	"fmt"
	"regexp"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// PlanStep is one line of EXPLAIN QUERY PLAN, read.
type PlanStep struct {
	stage string // IXSCAN, COLLSCAN, SORT, FETCH
	index *Index // for IXSCAN of a secondary index
	idIdx bool   // IXSCAN of the _id index
}

var usingIndex = regexp.MustCompile(`(?:SEARCH|SCAN) (\w+)(?: AS \w+)? USING (?:COVERING )?INDEX (\w+)`)
var scanTable = regexp.MustCompile(`^SCAN (\w+)(?: AS \w+)?$`)

// An R*Tree (g…) or an FTS5 table (t…): a 2dsphere or a text index.
var scanRtree = regexp.MustCompile(`^SCAN ([gt]\d+_\d+) VIRTUAL TABLE INDEX`)

// SQLPlan asks SQLite how it runs `text` on c's tables.
func (db *Database) SQLPlan(ctx context.Context, c *Collection, text string, args []any) ([]PlanStep, []string, error) {
	rows, err := db.sql.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var steps []PlanStep
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
			steps = append(steps, PlanStep{stage: "SORT"})
		case scanRtree.MatchString(detail):
			if ix := c.indexBySQLName(scanRtree.FindStringSubmatch(detail)[1]); ix != nil {
				steps = append(steps, PlanStep{stage: "IXSCAN", index: ix})
			}
		case usingIndex.MatchString(detail):
			m := usingIndex.FindStringSubmatch(detail)
			if m[1] != keys && !strings.HasPrefix(m[1], "k") {
				continue
			}
			if strings.HasPrefix(m[2], "sqlite_autoindex_") {
				steps = append(steps, PlanStep{stage: "IXSCAN", idIdx: true})
			} else if ix := c.indexBySQLName(m[2]); ix != nil {
				steps = append(steps, PlanStep{stage: "IXSCAN", index: ix})
			}
		case scanTable.MatchString(detail):
			m := scanTable.FindStringSubmatch(detail)
			if m[1] == keys || m[1] == "k" {
				steps = append(steps, PlanStep{stage: "COLLSCAN"})
			}
		}
	}
	return steps, details, rows.Err()
}

func keyPattern(st PlanStep) bsoncore.Document {
	if st.idIdx || st.index == nil {
		return query.BuildDoc("_id", query.VInt32(1))
	}
	if st.index.text {
		return query.BuildDoc("_fts", query.VString("text"), "_ftsx", query.VInt32(1))
	}
	var kv []any
	for _, k := range st.index.keys {
		if st.index.geo {
			kv = append(kv, k.path, query.VString("2dsphere"))
			continue
		}
		kv = append(kv, k.path, query.VInt32(int32(k.dir)))
	}
	return query.BuildDoc(kv...)
}

func indexName(st PlanStep) string {
	if st.idIdx || st.index == nil {
		return "_id_"
	}
	return st.index.Name
}

// PlanSummary: "IXSCAN { city_key: 1 }" or "COLLSCAN", as the profiler writes it.
func PlanSummary(steps []PlanStep) string {
	var parts []string
	for _, st := range steps {
		switch st.stage {
		case "IXSCAN":
			var keys []string
			for _, k := range st.keys() {
				if st.index != nil && st.index.text {
					keys = append(keys, fmt.Sprintf("%s: \"text\"", k.path))
					continue
				}
				if st.index != nil && st.index.geo {
					keys = append(keys, fmt.Sprintf("%s: \"2dsphere\"", k.path))
					continue
				}
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

func (st PlanStep) keys() []indexKey {
	if st.idIdx || st.index == nil {
		return []indexKey{{path: "_id", dir: 1}}
	}
	return st.index.keys
}

// WinningPlan builds a MongoDB-shaped plan tree from the steps.
func WinningPlan(steps []PlanStep, fetch bool) bsoncore.Document {
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
