// $text against brute force: a text index (FTS5) must find exactly the
// documents a plain scan of their words finds, folded by this test's own
// small table (not query.Fold), ANDed words through $all included, after
// inserts, updates and deletes; the textScore must order the results; and
// what MongoDB refuses is refused.
package handler

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// vocabulary: written forms, and each one's folded word as a person reads it.
var vocabulary = [][2]string{
	{"Terrasse", "terrasse"}, {"terrasse", "terrasse"}, {"VUE", "vue"}, {"vue", "vue"}, {"mer", "mer"},
	{"Été", "ete"}, {"ete", "ete"}, {"Straße", "strasse"}, {"STRASSE", "strasse"}, {"Café", "cafe"},
	{"cafe", "cafe"}, {"jardin", "jardin"}, {"Garden", "garden"}, {"Ærø", "ærø"}, {"naïve", "naive"},
	{"Zoë", "zoe"}, {"3", "3"}, {"piscine", "piscine"}, {"calme", "calme"}, {"Écoles", "ecoles"},
}

var separators = []string{" ", ", ", " - ", "! ", "\n", "/"}

func TestTextSearchEqualsBruteForce(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("text")
	coll := db.Collection("homes")
	must(coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "name", Value: "text"}, {Key: "body", Value: "text"}, {Key: "words", Value: "text"}},
		Options: options.Index().SetName("search").SetWeights(bson.D{{Key: "name", Value: 10}, {Key: "body", Value: 1}}).
			SetDefaultLanguage("none")}))(t)
	// An ordinary index too: its key columns sit beside the FTS5 table's in one statement.
	must(coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: 1}}}))(t)
	r := rand.New(rand.NewSource(11))
	folded := map[int64]map[string]bool{} // the words of each live document, by this test's table
	phrase := func(n int) (string, []string) {
		var b strings.Builder
		var words []string
		for i := 0; i < n; i++ {
			v := vocabulary[r.Intn(len(vocabulary))]
			if i > 0 {
				b.WriteString(separators[r.Intn(len(separators))])
			}
			b.WriteString(v[0])
			words = append(words, v[1])
		}
		return b.String(), words
	}
	makeDoc := func(id int64) bson.D {
		name, nw := phrase(1 + r.Intn(3))
		body, bw := phrase(r.Intn(12))
		set := map[string]bool{}
		var words bson.A
		for _, w := range append(nw, bw...) {
			if !set[w] {
				words = append(words, w)
			}
			set[w] = true
		}
		folded[id] = set
		d := bson.D{{Key: "_id", Value: id}, {Key: "name", Value: name}, {Key: "body", Value: body}, {Key: "words", Value: words}}
		if id%17 == 0 { // not text: ignored by the index, as MongoDB does
			d[2].Value = int32(7)
			folded[id] = map[string]bool{}
			for _, w := range nw {
				folded[id][w] = true
			}
			d[3].Value = bson.A{}
			for w := range folded[id] {
				d[3].Value = append(d[3].Value.(bson.A), w)
			}
		}
		return d
	}
	var docs []any
	for id := int64(1); id <= 600; id++ {
		docs = append(docs, makeDoc(id))
	}
	must(coll.InsertMany(ctx, docs))(t)
	// Changes after the index was filled: replaced, emptied and deleted documents.
	for id := int64(1); id <= 600; id += 7 {
		must(coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, makeDoc(id)))(t)
	}
	for id := int64(3); id <= 600; id += 29 {
		must(coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}))(t)
		delete(folded, id)
	}

	terms := []string{"terrasse", "vue", "mer", "ete", "strasse", "cafe", "jardin", "garden", "ærø", "naive", "zoe", "3",
		"piscine", "calme", "ecoles", "absent"}
	nonEmpty := 0
	for round := 0; round < 80; round++ {
		n := 1 + r.Intn(3)
		var asked, sent []string
		for i := 0; i < n; i++ {
			w := terms[r.Intn(len(terms))]
			asked = append(asked, w)
			sent = append(sent, strings.ToUpper(w)) // folded by the server too
		}
		negated := ""
		if round%5 == 4 {
			negated = terms[r.Intn(len(terms))]
			sent = append(sent, "-"+negated)
		}
		anyWant, allWant := map[int64]bool{}, map[int64]bool{}
		for id, set := range folded {
			any, all := false, true
			for _, w := range asked {
				any = any || set[w]
				all = all && set[w]
			}
			if negated != "" && set[negated] {
				any, all = false, false
			}
			if any {
				anyWant[id] = true
			}
			if any && all {
				allWant[id] = true
			}
		}
		nonEmpty += len(allWant)
		search := bson.D{{Key: "$search", Value: strings.Join(sent, " ")}}
		textOnly := bson.D{{Key: "$text", Value: search}}
		var all bson.A
		for _, w := range asked {
			all = append(all, w)
		}
		withAll := bson.D{{Key: "$text", Value: search}, {Key: "words", Value: bson.D{{Key: "$all", Value: all}}},
			{Key: "name", Value: bson.D{{Key: "$ne", Value: "no such name"}}}}
		// A condition SQL does not answer ($mod): Go checks the rest, scores still from FTS5.
		even := bson.D{{Key: "$text", Value: search}, {Key: "_id", Value: bson.D{{Key: "$mod", Value: bson.A{2, 0}}}}}
		evenWant := map[int64]bool{}
		for id := range anyWant {
			if id%2 == 0 {
				evenWant[id] = true
			}
		}
		for _, c := range []struct {
			filter bson.D
			want   map[int64]bool
		}{{textOnly, anyWant}, {withAll, allWant}, {even, evenWant}} {
			opts := options.Find().SetProjection(bson.D{{Key: "score", Value: bson.D{{Key: "$meta", Value: "textScore"}}}}).
				SetSort(bson.D{{Key: "score", Value: bson.D{{Key: "$meta", Value: "textScore"}}}, {Key: "_id", Value: 1}})
			cur := must(coll.Find(ctx, c.filter, opts))(t)
			var got []int64
			last := 1e300
			for cur.Next(ctx) {
				score := cur.Current.Lookup("score").Double()
				if score > last || score <= 0 {
					t.Fatalf("%v: score %f after %f", c.filter, score, last)
				}
				last = score
				got = append(got, cur.Current.Lookup("_id").AsInt64())
			}
			sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			var want []int64
			for id := range c.want {
				want = append(want, id)
			}
			sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%v:\n got   %v\n brute %v", c.filter, got, want)
			}
			if n := must(coll.CountDocuments(ctx, c.filter))(t); n != int64(len(want)) {
				t.Fatalf("%v: count %d, brute force %d", c.filter, n, len(want))
			}
		}
	}
	if nonEmpty == 0 {
		t.Fatal("no search matched every word anywhere: the test tests nothing")
	}

	// The name weighs more: a word in the name beats the same word in the body.
	must(coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: 1001}, {Key: "name", Value: "Quiet lagoon"}, {Key: "body", Value: "x"}},
		bson.D{{Key: "_id", Value: 1002}, {Key: "name", Value: "x"}, {Key: "body", Value: "quiet lagoon"}},
	}))(t)
	opts := options.Find().SetSort(bson.D{{Key: "score", Value: bson.D{{Key: "$meta", Value: "textScore"}}}})
	got := ids(t, must(coll.Find(ctx, bson.D{{Key: "$text", Value: bson.D{{Key: "$search", Value: "lagoon"}}}}, opts))(t))
	if fmt.Sprint(got) != "[1001 1002]" {
		t.Fatalf("weights: %v, want [1001 1002]", got)
	}

	// explain: the FTS5 table, as the text index, never a collection scan.
	var plan bson.M
	must(struct{}{}, db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "homes"},
		{Key: "filter", Value: bson.D{{Key: "$text", Value: bson.D{{Key: "$search", Value: "vue"}}}}}}}}).Decode(&plan))(t)
	if s := fmt.Sprint(plan["queryPlanner"]); !strings.Contains(s, "search") || strings.Contains(s, "COLLSCAN") {
		t.Fatalf("explain: %s", s)
	}
}

func TestTextSearchRefusesWhatMongoDBRefuses(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("text")
	coll := db.Collection("homes")
	must(coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "vue"}}))(t)
	text := bson.D{{Key: "$text", Value: bson.D{{Key: "$search", Value: "vue"}}}}
	expectCode := func(what string, err error, code int32) {
		t.Helper()
		var ce mongo.CommandError
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("%s: %v, want code %d", what, err, code)
		}
	}
	_, err := coll.Find(ctx, text)
	expectCode("$text without a text index", err, 27)
	_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: "text"}}})
	expectCode("a text index with stemming (default_language english)", err, 67)
	must(coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: "text"}},
		Options: options.Index().SetDefaultLanguage("none")}))(t)
	_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "body", Value: "text"}},
		Options: options.Index().SetDefaultLanguage("none")})
	expectCode("a second text index", err, 85)
	if n := must(coll.CountDocuments(ctx, text))(t); n != 1 {
		t.Fatalf("count %d, want 1", n)
	}
	for _, bad := range []bson.D{
		{{Key: "$or", Value: bson.A{text, bson.D{{Key: "x", Value: 1}}}}},
		{{Key: "$nor", Value: bson.A{text}}},
		{{Key: "$text", Value: bson.D{{Key: "$search", Value: "\"vue mer\""}}}},
		{{Key: "$text", Value: bson.D{{Key: "$search", Value: "vue"}, {Key: "$caseSensitive", Value: true}}}},
		{{Key: "$text", Value: "vue"}},
	} {
		if _, err := coll.Find(ctx, bad); err == nil {
			t.Fatalf("%v: accepted", bad)
		}
	}
	_, err = coll.Aggregate(ctx, mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "name", Value: "vue"}}}},
		{{Key: "$limit", Value: 5}}, {{Key: "$match", Value: text}}})
	expectCode("$text past the first stage", err, 17313)
	// A delete by $text goes through the index too.
	res := must(coll.DeleteMany(ctx, text))(t)
	if res.DeletedCount != 1 {
		t.Fatalf("deleted %d, want 1", res.DeletedCount)
	}
	if n := must(coll.CountDocuments(ctx, text))(t); n != 0 {
		t.Fatalf("count after delete %d, want 0", n)
	}
}
