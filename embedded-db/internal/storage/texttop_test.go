// topScored's pages against the full query's order: ties in score (twin
// texts), a filter that rejects most of the best rows (so the full query
// must run), and pages deep enough to reach past the rows read first.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"roost.local/embedded-db/internal/query"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func TestTextPagesByScoreEqualTheFullOrder(t *testing.T) {
	ctx := context.Background()
	st, db := openTestDB(t, t.TempDir())
	defer st.Close()
	texts := []string{"terrasse vue mer", "vue mer", "une terrasse avec vue sur la mer et un jardin", "mer", "vue",
		"terrasse terrasse vue vue mer mer", "la vue depuis la terrasse donne sur la mer calme"}
	var c *Collection
	err := db.InWrite(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = db.CreateCollection(ctx, tx, "homes"); err != nil {
			return err
		}
		for _, spec := range []bsoncore.Document{
			query.BuildDoc("key", query.VDoc(query.BuildDoc("body", query.VString("text"))), "name", query.VString("body_text"),
				"default_language", query.VString("none")),
			query.BuildDoc("key", query.VDoc(query.BuildDoc("n", query.VInt32(1))), "name", query.VString("n_1")),
		} {
			ix, err := ParseIndexSpec(spec)
			if err != nil {
				return err
			}
			if _, err := db.CreateIndex(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		for i := int64(1); i <= 600; i++ {
			// n: 2 for one in ten, so that a filter on n: 2 rejects most of
			// the best rows and the full query must run.
			n := int32(1)
			if i%10 == 0 {
				n = 2
			}
			// _ids run against the rows: FTS5 gives ties in row order, the
			// page wants them by _id.
			// Half the homes say the same: one tie, longer than a page's reads.
			body := texts[i%int64(len(texts))]
			if i <= 300 {
				body = "vue mer"
			}
			d := query.BuildDoc("_id", query.VInt64(10000-i), "n", query.VInt32(n), "body", query.VString(body))
			if err := db.InsertDoc(ctx, tx, c, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	byScore := []query.SortKey{{Meta: true}, {Path: "_id", Dir: 1}}
	for _, filter := range []bsoncore.Document{
		query.BuildDoc("$text", query.VDoc(query.BuildDoc("$search", query.VString("vue mer")))),
		query.BuildDoc("$text", query.VDoc(query.BuildDoc("$search", query.VString("terrasse")))),
		query.BuildDoc("$text", query.VDoc(query.BuildDoc("$search", query.VString("vue mer"))), "n", query.VInt32(2)),
		query.BuildDoc("$text", query.VDoc(query.BuildDoc("$search", query.VString("mer"))), "n", query.VInt32(1)),
	} {
		all := spec(t, filter)
		all.Sort = byScore
		full, err := db.Read(ctx, nil, c, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(full.Docs) < 40 {
			t.Fatalf("%v: only %d matches, the test needs more", filter, len(full.Docs))
		}
		for _, page := range [][2]int64{{0, 20}, {20, 20}, {100, 25}, {int64(len(full.Docs)) - 10, 20}, {int64(len(full.Docs)) + 5, 20}} {
			rs := spec(t, filter)
			rs.Sort, rs.Skip, rs.Limit = byScore, page[0], page[1]
			got, err := db.Read(ctx, nil, c, rs)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := page[0]; i < min(page[0]+page[1], int64(len(full.Docs))); i++ {
				want = append(want, fmt.Sprintf("%v@%.9g", full.Docs[i].Lookup("_id"), full.Scores[i]))
			}
			var have []string
			for i, d := range got.Docs {
				have = append(have, fmt.Sprintf("%v@%.9g", d.Lookup("_id"), got.Scores[i]))
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Fatalf("%v, skip %d limit %d:\n page %v\n full %v", filter, page[0], page[1], have, want)
			}
		}
	}
}
