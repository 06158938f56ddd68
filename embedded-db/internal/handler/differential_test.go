// The differential tests: random queries answered from indexes (SQL over
// key columns) must equal those answered by the Go matcher and a
// brute-force reading; the aggregation fast paths likewise.
package handler

import (
	"context"
	"fmt"
	"math/rand"
	"roost.local/embedded-db/internal/query"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// randomDoc makes documents with the shapes Roost stores, and a few others.
func randomDoc(r *rand.Rand, id int) bson.D {
	cities := []string{"Paris", "paris", "Lyon", "Zürich", "", "Oslo"}
	d := bson.D{{Key: "_id", Value: int64(id)}}
	if r.Intn(10) > 0 {
		d = append(d, bson.E{Key: "city", Value: cities[r.Intn(len(cities))]})
	}
	switch r.Intn(6) {
	case 0:
		d = append(d, bson.E{Key: "price", Value: int32(r.Intn(100))})
	case 1:
		d = append(d, bson.E{Key: "price", Value: float64(r.Intn(1000)) / 10})
	case 2:
		d = append(d, bson.E{Key: "price", Value: "cheap"})
	case 3:
		d = append(d, bson.E{Key: "price", Value: nil})
	default:
		d = append(d, bson.E{Key: "price", Value: int64(r.Intn(100))})
	}
	if r.Intn(5) == 0 {
		d = append(d, bson.E{Key: "deleted_at", Value: int64(r.Intn(1000))})
	}
	d = append(d, bson.E{Key: "created_at", Value: int64(r.Intn(50))})
	if r.Intn(4) == 0 {
		d = append(d, bson.E{Key: "tags", Value: bson.A{"a", cities[r.Intn(len(cities))]}})
	}
	return d
}

func randomFilter(r *rand.Rand) bson.D {
	fields := []string{"city", "price", "deleted_at", "created_at", "_id", "tags"}
	vals := []any{"Paris", "paris", "Lyon", "", int32(5), int64(50), 12.5, nil, "cheap", true}
	var f bson.D
	for i := 0; i < 1+r.Intn(2); i++ {
		field := fields[r.Intn(len(fields))]
		v := vals[r.Intn(len(vals))]
		switch r.Intn(9) {
		case 0:
			f = append(f, bson.E{Key: field, Value: v})
		case 1:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$ne", Value: v}}})
		case 2:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: []string{"$gt", "$gte", "$lt", "$lte"}[r.Intn(4)], Value: v}}})
		case 3:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$in", Value: bson.A{v, vals[r.Intn(len(vals))]}}}})
		case 4:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$exists", Value: r.Intn(2) == 0}}})
		case 5:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$nin", Value: bson.A{v}}}})
		case 6:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$regex", Value: []string{"ar", "^Pa", "i$", "\\.", "Z"}[r.Intn(5)]}}})
		case 7:
			f = append(f, bson.E{Key: "$or", Value: bson.A{bson.D{{Key: field, Value: v}}, bson.D{{Key: fields[r.Intn(len(fields))], Value: bson.D{{Key: "$exists", Value: false}}}}}})
		default:
			f = append(f, bson.E{Key: field, Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gt", Value: v}}}}})
		}
	}
	return f
}

func ids(t *testing.T, cur *mongo.Cursor) []int64 {
	var out []int64
	for cur.Next(context.Background()) {
		out = append(out, cur.Current.Lookup("_id").AsInt64())
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIndexedAnswersEqualScannedAnswers(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("diff")
	indexed, plain := db.Collection("indexed"), db.Collection("plain")
	for _, k := range []string{"city", "price", "deleted_at", "created_at", "tags"} {
		must(indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: k, Value: 1}}}))(t)
	}
	must(indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "deleted_at", Value: 1}, {Key: "created_at", Value: -1}}}))(t)
	r := rand.New(rand.NewSource(42))
	var docs []any
	var raw []bsoncore.Document
	for i := 1; i <= 400; i++ {
		d := randomDoc(r, i)
		docs = append(docs, d)
		b, _ := bson.Marshal(d)
		raw = append(raw, b)
	}
	must(indexed.InsertMany(ctx, docs))(t)
	must(plain.InsertMany(ctx, docs))(t)
	sorts := []bson.D{nil, {{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}, {{Key: "price", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "city", Value: 1}, {Key: "_id", Value: 1}}}
	for round := 0; round < 300; round++ {
		filter := randomFilter(r)
		sortSpec := sorts[r.Intn(len(sorts))]
		skip, limit := int64(r.Intn(5)), int64(r.Intn(20))
		opts := options.Find().SetSkip(skip).SetLimit(limit)
		if sortSpec != nil {
			opts.SetSort(sortSpec)
		} else {
			opts.SetSort(bson.D{{Key: "_id", Value: 1}})
		}
		a := ids(t, must(indexed.Find(ctx, filter, opts))(t))
		b := ids(t, must(plain.Find(ctx, filter, opts))(t))
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("filter %v sort %v skip %d limit %d:\n indexed %v\n scanned %v", filter, sortSpec, skip, limit, a, b)
		}
		na := must(indexed.CountDocuments(ctx, filter))(t)
		nb := must(plain.CountDocuments(ctx, filter))(t)
		fb, _ := bson.Marshal(filter)
		node, err := query.CompileFilter(fb)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		for _, d := range raw {
			if node.Match(d) {
				want++
			}
		}
		if na != want || nb != want {
			t.Fatalf("filter %v: count indexed %d, scanned %d, brute force %d", filter, na, nb, want)
		}
	}
}

func TestExplainAndProfilerNameTheIndex(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("shop")
	c := db.Collection("items")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "city_key", Value: 1}}, Options: options.Index().SetName("city_key")}))(t)
	for i := 0; i < 50; i++ {
		must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "city_key", Value: fmt.Sprint("c", i%5)}, {Key: "other", Value: i}}))(t)
	}
	explain := func(filter bson.D) bson.RawValue {
		var out bson.Raw
		if err := db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "items"}, {Key: "filter", Value: filter}}}}).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Lookup("queryPlanner", "winningPlan")
	}
	if plan := explain(bson.D{{Key: "city_key", Value: "c1"}}).String(); !contains(plan, `"IXSCAN"`) || !contains(plan, `"city_key"`) {
		t.Errorf("an indexed filter should be an IXSCAN of city_key: %s", plan)
	}
	if plan := explain(bson.D{{Key: "other", Value: 3}}).String(); !contains(plan, "COLLSCAN") {
		t.Errorf("an unindexed filter should be a COLLSCAN: %s", plan)
	}
	must(db.RunCommand(ctx, bson.D{{Key: "profile", Value: 2}}).Raw())(t)
	must(c.CountDocuments(ctx, bson.D{{Key: "city_key", Value: "c2"}}))(t)
	must(c.Find(ctx, bson.D{{Key: "other", Value: 1}}))(t)
	cur := must(db.Collection("system.profile").Find(ctx, bson.D{}))(t)
	var summaries []string
	for cur.Next(ctx) {
		if s, ok := cur.Current.Lookup("planSummary").StringValueOK(); ok {
			summaries = append(summaries, s)
		}
	}
	if fmt.Sprint(summaries) != "[IXSCAN { city_key: 1 } COLLSCAN]" {
		t.Errorf("profiled plan summaries: %v", summaries)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestAggregationFastPathsAgreeWithDocuments(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("agg").Collection("p")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "city", Value: 1}}}))(t)
	var docs []any
	for i := 0; i < 100; i++ {
		d := bson.D{{Key: "_id", Value: i}, {Key: "n", Value: i}}
		if i%10 != 0 {
			d = append(d, bson.E{Key: "city", Value: []string{"Paris", "Lyon", "Oslo"}[i%3]})
		}
		docs = append(docs, d)
	}
	must(c.InsertMany(ctx, docs))(t)
	group := func(pipeline bson.A) map[string]int32 {
		out := map[string]int32{}
		cur := must(c.Aggregate(ctx, pipeline))(t)
		for cur.Next(ctx) {
			k := fmt.Sprint(cur.Current.Lookup("_id"))
			out[k] = cur.Current.Lookup("count").Int32()
		}
		return out
	}
	fast := group(bson.A{bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$city"}, {Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}}}}}})
	slow := group(bson.A{bson.D{{Key: "$project", Value: bson.D{{Key: "city", Value: 1}}}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$city"}, {Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}}}}}})
	if fmt.Sprint(fast) != fmt.Sprint(slow) || fast["null"] != 10 {
		t.Errorf("grouped from the index %v, from the documents %v", fast, slow)
	}
	n := must(c.CountDocuments(ctx, bson.D{{Key: "city", Value: "Paris"}}, options.Count().SetSkip(5).SetLimit(10)))(t)
	if n != 10 {
		t.Errorf("count with skip 5 and limit 10 of 30 Paris: %d", n)
	}
}
