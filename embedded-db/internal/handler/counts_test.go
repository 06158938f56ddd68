// Restarts, the counts and marked pages kept with every write, refused
// statements and maxTimeMS.
package handler

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

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
			node := must(query.CompileFilter(fb))(t)
			want := int64(0)
			for _, d := range all {
				if node.Match(d) {
					want++
				}
			}
			if got := must(c.CountDocuments(ctx, f))(t); got != want {
				t.Fatalf("%s: count of %v is %d, the documents say %d", when, f, got, want)
			}
			if got := must(c.CountDocuments(ctx, f, options.Count().SetSkip(3).SetLimit(5)))(t); got != pageOf(want, 3, 5) {
				t.Fatalf("%s: count of %v with skip 3, limit 5 is %d, want %d", when, f, got, pageOf(want, 3, 5))
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
	defer func(s int64) { storage.MarkStride = s }(storage.MarkStride)
	storage.MarkStride = 7
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
	kept, _ := ts.store.Database("marks", false)
	if kept.KeptMarks() == 0 {
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

// pageOf is how many of n documents a count with skip and limit (> 0) says.
func pageOf(n, skip, limit int64) int64 {
	return min(max(n-skip, 0), limit)
}
