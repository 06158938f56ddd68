// $geoNear's SQL path against a brute-force order, across the lives of a
// 2dsphere index: made, dropped and made again, and found in an older
// format at open (remade from the documents).
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"roost.local/embedded-db/internal/query"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func geoSpec() bsoncore.Document {
	return query.BuildDoc("key", query.VDoc(query.BuildDoc("loc", query.VString("2dsphere"))), "name", query.VString("loc_2dsphere"))
}

func makeGeoIndex(ctx context.Context, db *Database, c *Collection) error {
	return db.InWrite(ctx, func(tx *sql.Tx) error {
		ix, err := ParseIndexSpec(geoSpec())
		if err != nil {
			return err
		}
		_, err = db.CreateIndex(ctx, tx, c, ix)
		return err
	})
}

// nearIDs reads the _ids of a $geoNear page: skip, then limit.
func nearIDs(t *testing.T, db *Database, c *Collection, lon, lat float64, skip, limit int64) []int64 {
	t.Helper()
	res, err := db.Read(context.Background(), nil, c, ReadSpec{Filter: query.TrueNode{}, Skip: skip, Limit: limit,
		Near: &Near{Path: "loc", Lon: lon, Lat: lat}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Exact {
		t.Fatalf("the $geoNear read was not done in SQL: %s", res.SQL)
	}
	var out []int64
	for _, d := range res.Docs {
		id, _ := d.Lookup("_id").Int64OK()
		out = append(out, id)
	}
	return out
}

func TestNearInSQLAcrossAnIndexsLives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, db := openTestDB(t, dir)
	r := rand.New(rand.NewSource(3))
	var err error
	type point struct{ lon, lat float64 }
	pts := map[int64]point{}
	var c *Collection
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		if c, err = db.CreateCollection(ctx, tx, "homes"); err != nil {
			return err
		}
		for i := int64(1); i <= 400; i++ {
			d := query.BuildDoc("_id", query.VInt64(i))
			if i%40 != 0 { // some homes have no point
				// Clustered, with repeats: equal distances are ordered by _id.
				// (Centres off the grid: no two points differ and tie.)
				p := point{2.35 + float64(r.Intn(60))*1e-4, 48.85 + float64(r.Intn(60))*1e-4}
				pts[i] = p
				d = query.BuildDoc("_id", query.VInt64(i), "loc", query.VDoc(query.BuildDoc("type", query.VString("Point"),
					"coordinates", query.VArray([]bsoncore.Value{query.VDouble(p.lon), query.VDouble(p.lat)}))))
			}
			if err := db.InsertDoc(ctx, tx, c, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	brute := func(lon, lat float64) []int64 {
		var ids []int64
		for id := range pts {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			di := query.Haversine(pts[ids[i]].lon, pts[ids[i]].lat, lon, lat)
			dj := query.Haversine(pts[ids[j]].lon, pts[ids[j]].lat, lon, lat)
			if math.Abs(di-dj) > 1e-13 {
				return di < dj
			}
			return ids[i] < ids[j]
		})
		return ids
	}
	check := func(when string) {
		t.Helper()
		for _, centre := range []point{{2.35317, 48.85283}, {2.36011, 48.84977}, {-73.98, 40.75}} {
			want := brute(centre.lon, centre.lat)
			for _, page := range [][2]int64{{0, 20}, {100, 25}, {370, 20}} {
				got := nearIDs(t, db, c, centre.lon, centre.lat, page[0], page[1])
				end := min(int64(len(want)), page[0]+page[1])
				if fmt.Sprint(got) != fmt.Sprint(want[page[0]:end]) {
					t.Fatalf("%s, near %v, skip %d: %v, brute force %v", when, centre, page[0], got, want[page[0]:end])
				}
			}
		}
	}
	if err := makeGeoIndex(ctx, db, c); err != nil {
		t.Fatal(err)
	}
	check("a new index")
	// Written after the index was made: the keys carry the point too.
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		d := query.BuildDoc("_id", query.VInt64(401), "loc", query.VArray([]bsoncore.Value{query.VDouble(2.353), query.VDouble(48.853)}))
		pts[401] = point{2.353, 48.853}
		return db.InsertDoc(ctx, tx, c, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	check("a document added")
	if err := db.InWrite(ctx, func(tx *sql.Tx) error { return db.DropIndex(ctx, tx, c, "loc_2dsphere") }); err != nil {
		t.Fatal(err)
	}
	if err := makeGeoIndex(ctx, db, c); err != nil {
		t.Fatalf("the index made again after a drop: %v", err)
	}
	check("the index made again")
	// An index of an older format: an R*Tree without the points, no
	// vector columns. Open remakes it.
	ix := c.geoIndex("loc")
	err = db.InWrite(ctx, func(tx *sql.Tx) error {
		if err := dropGeoColumns(ctx, tx, c, ix); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE "+ix.sqlName); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("CREATE VIRTUAL TABLE %s USING rtree(id, x0, x1, y0, y1, z0, z1)", ix.sqlName))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, db = openTestDB(t, dir)
	defer st.Close()
	c = db.Collection("homes")
	check("an older index, remade at open")
}

// Pages of a shape sorted on a field that ties everywhere: the first pages
// walk the sort's index, the later ones read the shape (planShapeDriven),
// and together they hold every document once.
func TestShapePagesNeitherRepeatNorSkip(t *testing.T) {
	ctx := context.Background()
	st, db := openTestDB(t, t.TempDir())
	defer st.Close()
	var c *Collection
	inCircle := map[int64]bool{}
	err := db.InWrite(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = db.CreateCollection(ctx, tx, "homes"); err != nil {
			return err
		}
		for _, spec := range []bsoncore.Document{geoSpec(),
			query.BuildDoc("key", query.VDoc(query.BuildDoc("price", query.VInt32(1))), "name", query.VString("price_1"))} {
			ix, err := ParseIndexSpec(spec)
			if err != nil {
				return err
			}
			if _, err := db.CreateIndex(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		for i := int64(1); i <= 2000; i++ {
			lon := 2.35 + float64(i%20)*1e-4 // 100 of them near (2.35, 48.85), the rest 10° away
			if i%20 != 0 {
				lon += 10
			}
			if i%20 == 0 {
				inCircle[i] = true
			}
			d := query.BuildDoc("_id", query.VInt64(i), "price", query.VInt32(100),
				"loc", query.VArray([]bsoncore.Value{query.VDouble(lon), query.VDouble(48.85)}))
			if err := db.InsertDoc(ctx, tx, c, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	filter := query.BuildDoc("loc", query.VDoc(query.BuildDoc("$geoWithin", query.VDoc(query.BuildDoc("$centerSphere",
		query.VArray([]bsoncore.Value{query.VArray([]bsoncore.Value{query.VDouble(2.35), query.VDouble(48.85)}), query.VDouble(0.001)}))))))
	seen := map[int64]bool{}
	plans := map[bool]bool{}
	for page := int64(0); ; page++ {
		rs := spec(t, filter)
		rs.Sort, rs.Skip, rs.Limit = []query.SortKey{{Path: "price", Dir: 1}}, page*20, 20
		p, err := db.PlanReadAt(ctx, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		plans[p.Text == p.driven] = true
		res, err := db.Read(ctx, nil, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Docs) == 0 {
			break
		}
		for _, d := range res.Docs {
			id, _ := d.Lookup("_id").Int64OK()
			if seen[id] || !inCircle[id] {
				t.Fatalf("page %d: document %d again, or not in the circle", page+1, id)
			}
			seen[id] = true
		}
	}
	if len(seen) != len(inCircle) || !plans[true] || !plans[false] {
		t.Fatalf("%d of %d documents in the pages; plans used (driven: true): %v", len(seen), len(inCircle), plans)
	}
}

// Points mirrored about the centre are at one distance, up to rounding: the
// SQL order and Go's (a filter SQL cannot answer) round alike.
func TestNearTiesAlikeInSQLAndGo(t *testing.T) {
	ctx := context.Background()
	st, db := openTestDB(t, t.TempDir())
	defer st.Close()
	var c *Collection
	err := db.InWrite(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = db.CreateCollection(ctx, tx, "homes"); err != nil {
			return err
		}
		for i, p := range [][2]float64{{9, 0}, {11, 0}, {10, 1}, {10, -1}, {10.5, 0.5}, {9.5, -0.5}, {-170, 0}, {170, 0}} {
			d := query.BuildDoc("_id", query.VInt64(int64(i+1)), "n", query.VInt32(1),
				"loc", query.VArray([]bsoncore.Value{query.VDouble(p[0]), query.VDouble(p[1])}))
			if err := db.InsertDoc(ctx, tx, c, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := makeGeoIndex(ctx, db, c); err != nil {
		t.Fatal(err)
	}
	for _, centre := range [][2]float64{{10, 0}, {180, 0}} {
		var orders []string
		for _, filter := range []bsoncore.Document{query.BuildDoc(),
			query.BuildDoc("n", query.VDoc(query.BuildDoc("$mod", query.VArray([]bsoncore.Value{query.VInt32(1), query.VInt32(0)}))))} {
			rs := spec(t, filter)
			rs.Near = &Near{Path: "loc", Lon: centre[0], Lat: centre[1]}
			res, err := db.Read(ctx, nil, c, rs)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, d := range res.Docs {
				id, _ := d.Lookup("_id").Int64OK()
				ids = append(ids, id)
			}
			orders = append(orders, fmt.Sprint(ids))
		}
		if orders[0] != orders[1] {
			t.Fatalf("near %v: SQL orders %s, Go %s", centre, orders[0], orders[1])
		}
	}
}
