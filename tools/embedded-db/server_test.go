// Tests of roost-embedded-db through the official Go driver, against a
// server started in the test on a loopback port and a temporary directory.
//
// The central one is differential: the same random queries run against a
// collection with indexes (answered by SQL over key columns) and against a
// copy without (answered by the Go matcher); their answers must agree, and
// both must agree with a brute-force reading of the documents.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type testServer struct {
	addr   string
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
	store  *store
}

func startServer(t *testing.T, dir string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStore(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{addr: addr, dir: dir, cancel: cancel, done: make(chan struct{}), store: st}
	go func() {
		defer close(ts.done)
		newServer(st, log).serve(ctx, addr)
	}()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ts
}

func (ts *testServer) stop() {
	ts.cancel()
	<-ts.done
	ts.store.close()
}

func connect(t *testing.T, ts *testServer) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + ts.addr).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestKeysOrderLikeMongoDB(t *testing.T) {
	ordered := []bson.RawValue{}
	add := func(v any) {
		if v == nil {
			ordered = append(ordered, bson.RawValue{Type: bson.TypeNull})
			return
		}
		typ, data, err := bson.MarshalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		ordered = append(ordered, bson.RawValue{Type: typ, Value: data})
	}
	add(bson.MinKey{})
	add(nil)
	add(-1e300)
	add(int64(-5))
	add(int32(-4))
	add(-3.5)
	add(int32(0))
	add(0.5)
	add(int64(1) << 53)
	add(int64(1)<<53 + 1)
	add(1e300)
	add("")
	add("a")
	add("a\x00")
	add("ab")
	add("b")
	add(bson.D{{Key: "a", Value: 1}})
	add(bson.A{1})
	add(bson.Binary{Subtype: 0, Data: []byte{1}})
	add(bson.NewObjectIDFromTimestamp(time.Unix(1, 0)))
	add(false)
	add(true)
	add(bson.DateTime(-1))
	add(bson.DateTime(5))
	add(bson.Timestamp{T: 1, I: 1})
	add(bson.Regex{Pattern: "a", Options: ""})
	add(bson.MaxKey{})
	for i := 1; i < len(ordered); i++ {
		a := bsoncore.Value{Type: bsoncore.Type(ordered[i-1].Type), Data: ordered[i-1].Value}
		b := bsoncore.Value{Type: bsoncore.Type(ordered[i].Type), Data: ordered[i].Value}
		if compareValues(a, b) >= 0 {
			t.Errorf("%v should sort before %v", a, b)
		}
	}
	// The same number in three types is one value.
	if compareValues(vInt32(7), vInt64(7)) != 0 || compareValues(vInt64(7), vDouble(7)) != 0 {
		t.Error("7 as int32, int64 and double should compare equal")
	}
	if compareValues(keyValue(t, missingKey), vNull()) >= 0 {
		t.Error("a missing field sorts just before null")
	}
	for _, v := range []bsoncore.Value{vInt64(-3), vDouble(2.5), vString("x\x00y"), vBool(true), vNull()} {
		back, ok := decodeKey(keyOf(v))
		if !ok || compareValues(back, v) != 0 {
			t.Errorf("decodeKey(keyOf(%v)) = %v", v, back)
		}
	}
}

func keyValue(t *testing.T, k []byte) bsoncore.Value {
	v, ok := decodeKey(k)
	if !ok {
		t.Fatal("undecodable key")
	}
	return v
}

func TestCrudUniqueAndErrors(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("app").Collection("users")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("name_unique")}))(t)
	must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "ada"}}))(t)
	_, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "name", Value: "ada"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("want a duplicate key error, got %v", err)
	}
	_, err = c.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "bob"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("want a duplicate _id error, got %v", err)
	}
	// An ordered insert stops at the first failure and keeps what went before.
	_, err = c.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: 3}, {Key: "name", Value: "c"}},
		bson.D{{Key: "_id", Value: 4}, {Key: "name", Value: "ada"}}, bson.D{{Key: "_id", Value: 5}, {Key: "name", Value: "e"}}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("want a duplicate key error, got %v", err)
	}
	if n := must(c.CountDocuments(ctx, bson.D{}))(t); n != 2 {
		t.Fatalf("after the ordered insert: %d documents, want 2", n)
	}
	// A unique violation by an update changes nothing.
	_, err = c.UpdateOne(ctx, bson.D{{Key: "_id", Value: 3}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "ada"}}}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("want a duplicate key error from the update, got %v", err)
	}
	var got bson.M
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: 3}}).Decode(&got); err != nil || got["name"] != "c" {
		t.Fatalf("the refused update changed the document: %v %v", got, err)
	}
	// Upsert, replace, delete.
	res := must(c.UpdateOne(ctx, bson.D{{Key: "name", Value: "zed"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "age", Value: 3}}}},
		options.UpdateOne().SetUpsert(true)))(t)
	if res.UpsertedID == nil {
		t.Fatal("no upsert")
	}
	must(c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: 1}}, bson.D{{Key: "name", Value: "ada2"}, {Key: "x", Value: 1}}))(t)
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&got); err != nil || got["name"] != "ada2" || got["x"] != int32(1) {
		t.Fatalf("replace: %v %v", got, err)
	}
	if n := must(c.DeleteMany(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: bson.A{"c", "zed"}}}}}))(t).DeletedCount; n != 2 {
		t.Fatalf("deleted %d, want 2", n)
	}
	// Unknown commands and operators are errors, never silently ignored.
	err = c.FindOne(ctx, bson.D{{Key: "$where", Value: "1"}}).Err()
	if err == nil || err == mongo.ErrNoDocuments {
		t.Fatalf("$where should be refused, got %v", err)
	}
	_, err = c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}},
		Options: options.Index().SetPartialFilterExpression(bson.D{{Key: "x", Value: bson.D{{Key: "$gt", Value: 1}}}})})
	if err == nil {
		t.Fatal("a partial index should be refused")
	}
}

func TestFindAndModifyIsAtomic(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("app").Collection("counters")
	must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: "n"}, {Key: "v", Value: int64(0)}}))(t)
	var wg sync.WaitGroup
	seen := make([]int64, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var doc struct{ V int64 }
			err := c.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: "n"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "v", Value: int64(1)}}}},
				options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
			if err != nil {
				t.Error(err)
			}
			seen[i] = doc.V
		}(i)
	}
	wg.Wait()
	sort.Slice(seen, func(a, b int) bool { return seen[a] < seen[b] })
	for i, v := range seen {
		if v != int64(i+1) {
			t.Fatalf("the %dth increment returned %d: increments were lost or repeated", i+1, v)
		}
	}
}

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
		node, err := compileFilter(fb)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		for _, d := range raw {
			if node.match(d) {
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

func TestDataSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ctx := context.Background()
	c := connect(t, ts).Database("keep").Collection("k")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "k", Value: 1}}, Options: options.Index().SetUnique(true)}))(t)
	must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "k", Value: "x"}}))(t)
	ts.stop()
	ts = startServer(t, dir)
	defer ts.stop()
	c = connect(t, ts).Database("keep").Collection("k")
	if n := must(c.CountDocuments(ctx, bson.D{{Key: "k", Value: "x"}}))(t); n != 1 {
		t.Fatalf("after a restart: %d documents", n)
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "k", Value: "x"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("the unique index did not survive the restart: %v", err)
	}
}

// Counts are kept with the writes (counts.go): after any mix of concurrent
// inserts, updates, replaces, deletes, upserts, failed writes and a drop,
// every kept count must equal a brute-force count of what is stored.
func TestKeptCountsFollowEveryWrite(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("counts").Collection("p")
	for _, k := range []string{"city", "price", "deleted_at", "created_at"} {
		must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: k, Value: 1}}}))(t)
	}
	r := rand.New(rand.NewSource(7))
	var docs []any
	for i := 1; i <= 300; i++ {
		docs = append(docs, randomDoc(r, i))
	}
	must(c.InsertMany(ctx, docs))(t)
	filters := []bson.D{{}}
	for len(filters) < 40 {
		filters = append(filters, randomFilter(r))
	}
	check := func(when string) {
		t.Helper()
		var all []bsoncore.Document
		cur := must(c.Find(ctx, bson.D{}))(t)
		for cur.Next(ctx) {
			all = append(all, append(bsoncore.Document(nil), cur.Current...))
		}
		for _, f := range filters {
			fb, _ := bson.Marshal(f)
			node := must(compileFilter(fb))(t)
			want := int64(0)
			for _, d := range all {
				if node.match(d) {
					want++
				}
			}
			if got := must(c.CountDocuments(ctx, f))(t); got != want {
				t.Fatalf("%s: count of %v is %d, the documents say %d", when, f, got, want)
			}
			if got := must(c.CountDocuments(ctx, f, options.Count().SetSkip(3).SetLimit(5)))(t); got != skipLimit(want, 3, 5) {
				t.Fatalf("%s: count of %v with skip 3, limit 5 is %d, want %d", when, f, got, skipLimit(want, 3, 5))
			}
		}
	}
	check("after the first insert")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 3; w++ { // counters: fill and read kept counts while the writers run
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.CountDocuments(ctx, filters[r.Intn(len(filters))]); err != nil {
					t.Error(err)
					return
				}
			}
		}(int64(100 + w))
	}
	var writers sync.WaitGroup
	for w := 0; w < 4; w++ {
		writers.Add(1)
		go func(seed int64) {
			defer writers.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < 150; i++ {
				id := int64(1 + r.Intn(400))
				sel := bson.D{{Key: "_id", Value: id}}
				d := randomDoc(r, int(id))
				var err error
				switch r.Intn(8) {
				case 0:
					_, err = c.InsertOne(ctx, d) // often a duplicate _id: must change nothing
				case 1:
					_, err = c.ReplaceOne(ctx, sel, d, options.Replace().SetUpsert(true))
				case 2:
					_, err = c.UpdateOne(ctx, sel, bson.D{{Key: "$set", Value: bson.D{{Key: "city", Value: d[1].Value}}}})
				case 3:
					_, err = c.UpdateMany(ctx, randomFilter(r), bson.D{{Key: "$inc", Value: bson.D{{Key: "created_at", Value: 1}}}})
				case 4:
					_, err = c.DeleteOne(ctx, sel)
				case 5:
					err = c.FindOneAndUpdate(ctx, sel, bson.D{{Key: "$unset", Value: bson.D{{Key: "deleted_at", Value: ""}}}}).Err()
				case 6:
					err = c.FindOneAndDelete(ctx, bson.D{{Key: "price", Value: bson.D{{Key: "$gt", Value: r.Intn(100)}}}}).Err()
				default:
					// unordered: the new ids go in, the taken ones change nothing
					_, err = c.InsertMany(ctx, []any{d, randomDoc(r, 1+r.Intn(400))}, options.InsertMany().SetOrdered(false))
				}
				if err != nil && !errors.Is(err, mongo.ErrNoDocuments) && !mongo.IsDuplicateKeyError(err) {
					t.Error(err)
					return
				}
			}
		}(int64(w))
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	check("after concurrent writes")
	must(c.DeleteMany(ctx, bson.D{{Key: "city", Value: "Paris"}}))(t)
	check("after a deleteMany")
	if err := c.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	must(c.InsertMany(ctx, docs[:50]))(t)
	check("after a drop and a new insert")
}

// Group counts are kept with the writes too: /api/v1/cities's $group must
// follow inserts, moves between groups, deletes and the null/missing merge.
func TestKeptGroupCountsFollowEveryWrite(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("groups").Collection("p")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "deleted_at", Value: 1}, {Key: "city", Value: 1}}}))(t)
	r := rand.New(rand.NewSource(3))
	var docs []any
	for i := 1; i <= 200; i++ {
		docs = append(docs, randomDoc(r, i))
	}
	must(c.InsertMany(ctx, docs))(t)
	pipeline := bson.A{
		bson.D{{Key: "$match", Value: bson.D{{Key: "deleted_at", Value: bson.D{{Key: "$exists", Value: false}}}}}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$city"}, {Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
	// The same pipeline with a $project first cannot use the keys: it reads
	// the documents, and is the reference.
	reference := append(bson.A{bson.D{{Key: "$project", Value: bson.D{{Key: "city", Value: 1}, {Key: "deleted_at", Value: 1}}}}}, pipeline...)
	groups := func(p bson.A) string {
		out := map[string]int32{}
		cur := must(c.Aggregate(ctx, p))(t)
		for cur.Next(ctx) {
			out[fmt.Sprint(cur.Current.Lookup("_id"))] = cur.Current.Lookup("count").Int32()
		}
		return fmt.Sprint(out)
	}
	for round := 0; round < 60; round++ {
		if got, want := groups(pipeline), groups(reference); got != want {
			t.Fatalf("round %d: kept groups %s, documents say %s", round, got, want)
		}
		id := int64(1 + r.Intn(260))
		sel := bson.D{{Key: "_id", Value: id}}
		switch r.Intn(4) {
		case 0:
			c.InsertOne(ctx, randomDoc(r, int(id))) // may be a duplicate: changes nothing
		case 1:
			must(c.ReplaceOne(ctx, sel, randomDoc(r, int(id)), options.Replace().SetUpsert(true)))(t)
		case 2:
			must(c.UpdateOne(ctx, sel, bson.D{{Key: "$set", Value: bson.D{{Key: "deleted_at", Value: int64(5)}}}}))(t)
		default:
			must(c.DeleteOne(ctx, sel))(t)
		}
	}
}

// Deep pages start from marks kept with the writes (marks.go). With a mark
// every 7 entries, pages read at random depths while both collections take
// the same random writes must equal the pages of an unindexed copy.
func TestMarkedPagesFollowEveryWrite(t *testing.T) {
	defer func(s int64) { markStride = s }(markStride)
	markStride = 7
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("marks")
	indexed, plain := db.Collection("indexed"), db.Collection("plain")
	for _, k := range []string{"city", "price", "deleted_at", "created_at"} {
		must(indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "deleted_at", Value: 1}, {Key: k, Value: 1}}}))(t)
	}
	r := rand.New(rand.NewSource(11))
	var docs []any
	for i := 1; i <= 300; i++ {
		docs = append(docs, randomDoc(r, i))
	}
	must(indexed.InsertMany(ctx, docs))(t)
	must(plain.InsertMany(ctx, docs))(t)
	filters := []bson.D{{}, {{Key: "deleted_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		{{Key: "deleted_at", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "city", Value: "Paris"}}}
	sorts := []bson.D{{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}, {{Key: "price", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "city", Value: 1}, {Key: "_id", Value: 1}}, {{Key: "_id", Value: -1}}}
	for round := 0; round < 400; round++ {
		id := int64(1 + r.Intn(360))
		sel := bson.D{{Key: "_id", Value: id}}
		d := randomDoc(r, int(id))
		for _, c := range []*mongo.Collection{indexed, plain} {
			switch round % 4 {
			case 0:
				c.InsertOne(ctx, d) // may be a duplicate: changes nothing
			case 1:
				must(c.ReplaceOne(ctx, sel, d, options.Replace().SetUpsert(true)))(t)
			case 2:
				must(c.UpdateOne(ctx, sel, bson.D{{Key: "$set", Value: bson.D{{Key: "deleted_at", Value: int64(9)}}}}))(t)
			default:
				must(c.DeleteOne(ctx, sel))(t)
			}
		}
		for k := 0; k < 3; k++ {
			f, s := filters[r.Intn(len(filters))], sorts[r.Intn(len(sorts))]
			opts := options.Find().SetSort(s).SetSkip(int64(7 + r.Intn(300))).SetLimit(int64(1 + r.Intn(20)))
			a := ids(t, must(indexed.Find(ctx, f, opts))(t))
			b := ids(t, must(plain.Find(ctx, f, opts))(t))
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("round %d, filter %v, sort %v: marked page %v, scanned page %v", round, f, s, a, b)
			}
		}
	}
	kept, _ := ts.store.db("marks", false)
	kept.counts.mu.Lock()
	n := kept.counts.nmarks
	kept.counts.mu.Unlock()
	if n == 0 {
		t.Fatal("no page marks were kept: the test did not exercise them")
	}
}

// A statement refused half-way (here by a unique index on its second
// document) leaves nothing behind, kept counts included.
func TestRefusedStatementLeavesKeptCountsTrue(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	c := connect(t, ts).Database("refused").Collection("p")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "u", Value: 1}}, Options: options.Index().SetUnique(true)}))(t)
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "g", Value: 1}}}))(t)
	for i := 1; i <= 3; i++ {
		must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "u", Value: i}, {Key: "g", Value: "a"}}))(t)
	}
	b := bson.D{{Key: "g", Value: "b"}}
	if n := must(c.CountDocuments(ctx, b))(t); n != 0 {
		t.Fatalf("count before: %d", n)
	}
	_, err := c.UpdateMany(ctx, bson.D{{Key: "g", Value: "a"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "g", Value: "b"}, {Key: "u", Value: 7}}}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("updateMany onto one unique value: %v", err)
	}
	stored := must(c.CountDocuments(ctx, b))(t)
	var all []bson.M
	cur := must(c.Find(ctx, b))(t)
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	if stored != int64(len(all)) {
		t.Fatalf("kept count %d, documents %d", stored, len(all))
	}
}

// maxTimeMS stops a read that takes longer, with MongoDB's code 50, and
// leaves reads within it alone (the v2 driver sets it from a context's
// deadline, so the commands are sent as they are).
func TestMaxTimeMSStopsALongRead(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("app")
	docs := make([]any, 0, 20000)
	for i := 0; i < 20000; i++ {
		docs = append(docs, bson.D{{Key: "_id", Value: i + 1}, {Key: "note", Value: fmt.Sprintf("note %d of many", i)}})
	}
	must(db.Collection("things").InsertMany(ctx, docs))(t)
	// An unindexed regular expression: every document is read and matched in Go.
	filter := bson.D{{Key: "note", Value: bson.D{{Key: "$regex", Value: "9.*9.*9.*x"}}}}
	for _, cmd := range []bson.D{
		{{Key: "find", Value: "things"}, {Key: "filter", Value: filter}, {Key: "maxTimeMS", Value: 1}},
		{{Key: "count", Value: "things"}, {Key: "query", Value: filter}, {Key: "maxTimeMS", Value: 1}},
		{{Key: "aggregate", Value: "things"}, {Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: filter}},
			bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: 1}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}}}},
			{Key: "cursor", Value: bson.D{}}, {Key: "maxTimeMS", Value: 1}},
	} {
		err := db.RunCommand(ctx, cmd).Err()
		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 50 {
			t.Fatalf("%v: want MaxTimeMSExpired (50), got %v", cmd[0].Key, err)
		}
	}
	var out bson.M
	err := db.RunCommand(ctx, bson.D{{Key: "count", Value: "things"}, {Key: "query", Value: filter},
		{Key: "maxTimeMS", Value: 60000}}).Decode(&out)
	if err != nil || out["n"] != int64(0) && out["n"] != int32(0) {
		t.Fatalf("within the limit: got %v, %v", out, err)
	}
	err = db.RunCommand(ctx, bson.D{{Key: "find", Value: "things"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: 7}}},
		{Key: "maxTimeMS", Value: 1000}}).Err()
	if err != nil {
		t.Fatalf("an indexed read within the limit: %v", err)
	}
}
