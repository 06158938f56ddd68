// Tests of the storage alone, through its API (no wire, no commands): what
// a collection with an index answers from its keys must be what a brute-
// force reading of the documents says, counts and per-value counts
// included, and everything written survives a reopen.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"strings"
	"testing"

	"roost.local/embedded-db/internal/query"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

var cities = []string{"Paris", "Lyon", "Nice", "Lille"}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openTestDB opens a store in dir and its database roost_test, made if new.
func openTestDB(t *testing.T, dir string) (*Store, *Database) {
	t.Helper()
	st, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	db, err := st.Database("roost_test", true)
	if err != nil {
		t.Fatal(err)
	}
	return st, db
}

// filled opens a store in dir with "props" holding n documents {_id, city,
// price}, indexed on city and unique on code.
func filled(t *testing.T, dir string, n int) (*Store, *Database, *Collection, []bsoncore.Document) {
	t.Helper()
	ctx := context.Background()
	st, db := openTestDB(t, dir)
	r := rand.New(rand.NewSource(7))
	var err error
	var docs []bsoncore.Document
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		c, err := db.CreateCollection(ctx, tx, "props")
		if err != nil {
			return err
		}
		for _, spec := range []bsoncore.Document{
			query.BuildDoc("key", query.VDoc(query.BuildDoc("city", query.VInt32(1))), "name", query.VString("city_1")),
			query.BuildDoc("key", query.VDoc(query.BuildDoc("code", query.VInt32(1))), "name", query.VString("code_1"), "unique", query.VBool(true)),
		} {
			ix, err := ParseIndexSpec(spec)
			if err != nil {
				return err
			}
			if _, err := db.CreateIndex(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		for i := 1; i <= n; i++ {
			doc, err := PrepareInsert(query.BuildDoc("_id", query.VInt64(int64(i)), "city", query.VString(cities[r.Intn(len(cities))]),
				"price", query.VInt32(int32(r.Intn(1000))), "code", query.VInt64(int64(1000+i))))
			if err != nil {
				return err
			}
			if err := db.InsertDoc(ctx, tx, c, doc); err != nil {
				return err
			}
			docs = append(docs, doc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, db, db.Collection("props"), docs
}

func spec(t *testing.T, filter bsoncore.Document) ReadSpec {
	t.Helper()
	if len(filter) == len(EmptyDoc) {
		return ReadSpec{Filter: query.TrueNode{}, FilterKey: string(EmptyDoc)} // as an aggregation's missing $match
	}
	node, err := query.CompileFilter(filter)
	if err != nil {
		t.Fatal(err)
	}
	return ReadSpec{Filter: node, FilterKey: string(filter)}
}

func ids(docs []bsoncore.Document) map[int64]bool {
	out := map[int64]bool{}
	for _, d := range docs {
		id, _ := d.Lookup("_id").Int64OK()
		out[id] = true
	}
	return out
}

func TestIndexedReadsCountsAndGroupsEqualBruteForce(t *testing.T) {
	ctx := context.Background()
	st, db, c, docs := filled(t, t.TempDir(), 300)
	defer st.Close()
	for _, city := range cities {
		f := query.BuildDoc("city", query.VString(city))
		want := map[int64]bool{}
		for _, d := range docs {
			if s, _ := d.Lookup("city").StringValueOK(); s == city {
				id, _ := d.Lookup("_id").Int64OK()
				want[id] = true
			}
		}
		res, err := db.Read(ctx, nil, c, spec(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(res.Docs); len(got) != len(want) || !res.Exact {
			t.Fatalf("city %s: read %d documents (exact %v), want %d from the keys", city, len(got), res.Exact, len(want))
		}
		for id := range want {
			if !ids(res.Docs)[id] {
				t.Fatalf("city %s: document %d is missing", city, id)
			}
		}
		for round := 0; round < 2; round++ { // counted, then kept
			n, _, err := db.Count(ctx, nil, c, spec(t, f))
			if err != nil || n != int64(len(want)) {
				t.Fatalf("city %s, round %d: count %d (%v), want %d", city, round, n, err, len(want))
			}
		}
	}
	groups, res, ok, err := db.GroupCounts(ctx, c, spec(t, query.BuildDoc()), "city")
	if err != nil || !ok || !res.Exact || !strings.Contains(res.SQL, "GROUP BY") {
		t.Fatalf("group counts: ok %v, err %v, res %+v", ok, err, res)
	}
	total := int64(0)
	for k, n := range groups {
		v, _ := query.DecodeKey([]byte(k))
		city, _ := v.StringValueOK()
		want := int64(0)
		for _, d := range docs {
			if s, _ := d.Lookup("city").StringValueOK(); s == city {
				want++
			}
		}
		if n != want {
			t.Fatalf("group %q: %d, want %d", city, n, want)
		}
		total += n
	}
	if total != int64(len(docs)) {
		t.Fatalf("groups sum to %d, want %d", total, len(docs))
	}
	if _, _, ok, _ := db.GroupCounts(ctx, c, spec(t, query.BuildDoc()), "price"); ok {
		t.Fatal("a field without an index was grouped from keys it does not have")
	}
}

func TestAUniqueViolationIsADuplicateKeyErrorAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, db, c, _ := filled(t, t.TempDir(), 10)
	defer st.Close()
	err := db.InWrite(ctx, func(tx *sql.Tx) error {
		doc, _ := PrepareInsert(query.BuildDoc("_id", query.VInt64(99), "city", query.VString("Paris"), "code", query.VInt64(1003)))
		return db.InsertDoc(ctx, tx, c, doc)
	})
	var ce *query.CmdError
	if !errors.As(err, &ce) || ce.Code != 11000 || !strings.Contains(ce.Msg, "code_1") {
		t.Fatalf("insert of a taken code: %v, want E11000 naming code_1", err)
	}
	res, err := db.Read(ctx, nil, c, spec(t, query.BuildDoc("_id", query.VInt64(99))))
	if err != nil || len(res.Docs) != 0 {
		t.Fatalf("the refused document was kept: %d found (%v)", len(res.Docs), err)
	}
}

func TestEverythingWrittenSurvivesAReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, _, _, docs := filled(t, dir, 50)
	st.Close()
	st, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if names := st.Names(); len(names) != 1 || names[0] != "roost_test" {
		t.Fatalf("databases after a reopen: %v", names)
	}
	db, err := st.Database("roost_test", false)
	if err != nil || db == nil {
		t.Fatalf("database after a reopen: %v", err)
	}
	c := db.Collection("props")
	if c == nil || len(c.Indexes) != 2 {
		t.Fatalf("collection after a reopen: %+v", c)
	}
	res, err := db.Read(ctx, nil, c, spec(t, query.BuildDoc()))
	if err != nil || len(res.Docs) != len(docs) {
		t.Fatalf("read %d documents after a reopen (%v), want %d", len(res.Docs), err, len(docs))
	}
	for i, d := range res.Docs {
		if string(d) != string(docs[i]) {
			t.Fatalf("document %d changed across a reopen: %v, was %v", i, d, docs[i])
		}
	}
}
