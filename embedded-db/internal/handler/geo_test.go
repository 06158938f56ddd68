// Geo queries against brute force: $geoWithin caps and polygons, and
// $geoNear, answered through a 2dsphere index (the R*Tree) must equal the
// unindexed answer (the Go matcher over every document) and an independent
// brute-force computation — points near the poles and the antimeridian
// included. The brute force here uses other formulas than query/geo.go:
// the cosine law for distances and the sum of subtended angles for
// polygons, so that one mistake cannot hide in both.
package handler

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type pt struct{ lon, lat float64 }

func unit(p pt) [3]float64 {
	lo, la := p.lon*math.Pi/180, p.lat*math.Pi/180
	return [3]float64{math.Cos(la) * math.Cos(lo), math.Cos(la) * math.Sin(lo), math.Sin(la)}
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func crossv(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// angleBetween by the cosine law.
func angleBetween(a, b pt) float64 {
	return math.Acos(math.Max(-1, math.Min(1, dot(unit(a), unit(b)))))
}

// insideBrute: the angles the ring's edges subtend at p sum to ±2π inside,
// 0 outside — and ±2π at the antipodes of the inside too, which the
// hemisphere of a vertex tells apart for rings this small.
func insideBrute(ring []pt, p pt) bool {
	P := unit(p)
	if dot(P, unit(ring[0])) <= 0 {
		return false
	}
	sum := 0.0
	for i := 0; i+1 < len(ring); i++ {
		A, B := unit(ring[i]), unit(ring[i+1])
		ta, tb := crossv(P, A), crossv(P, B) // normals of the planes P-A and P-B
		sum += math.Atan2(dot(crossv(ta, tb), P), dot(ta, tb))
	}
	return math.Abs(sum) > math.Pi
}

// destination walks d radians from c on bearing theta.
func destination(c pt, theta, d float64) pt {
	la1, lo1 := c.lat*math.Pi/180, c.lon*math.Pi/180
	la2 := math.Asin(math.Sin(la1)*math.Cos(d) + math.Cos(la1)*math.Sin(d)*math.Cos(theta))
	lo2 := lo1 + math.Atan2(math.Sin(theta)*math.Sin(d)*math.Cos(la1), math.Cos(d)-math.Sin(la1)*math.Sin(la2))
	lon := math.Remainder(lo2*180/math.Pi, 360)
	return pt{lon, la2 * 180 / math.Pi}
}

// centres: places near which the queries are asked, the awkward ones included.
var centres = []pt{{2.35, 48.85}, {179.9, 0}, {-179.5, 10}, {0, 89.9}, {120, -89.5}, {-74, 40.7}, {0, 0}}

func randomPoint(r *rand.Rand) pt {
	c := centres[r.Intn(len(centres))]
	return destination(c, r.Float64()*2*math.Pi, r.Float64()*0.05)
}

// starPolygon: a simple ring around c (star-shaped about it), closed.
func starPolygon(r *rand.Rand, c pt, n int, size float64) []pt {
	var ring []pt
	for i := 0; i < n; i++ {
		theta := 2 * math.Pi * (float64(i) + 0.5*r.Float64()) / float64(n)
		ring = append(ring, destination(c, theta, size*(0.3+0.7*r.Float64())))
	}
	return append(ring, ring[0])
}

func geoJSONRing(ring []pt) bson.A {
	var a bson.A
	for _, p := range ring {
		a = append(a, bson.A{p.lon, p.lat})
	}
	return a
}

func TestGeoAnswersEqualBruteForce(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("geo")
	indexed, plain := db.Collection("indexed"), db.Collection("plain")
	must(indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "loc", Value: "2dsphere"}}}))(t)
	must(indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}}))(t) // SQL answers n
	r := rand.New(rand.NewSource(7))
	points := map[int64]pt{}
	var docs []any
	for i := int64(1); i <= 1500; i++ {
		d := bson.D{{Key: "_id", Value: i}, {Key: "n", Value: i % 3}}
		switch {
		case i%50 == 0: // no location
		case i%51 == 0:
			d = append(d, bson.E{Key: "loc", Value: nil})
		default:
			p := randomPoint(r)
			points[i] = p
			d = append(d, bson.E{Key: "loc", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{p.lon, p.lat}}}})
		}
		docs = append(docs, d)
	}
	must(indexed.InsertMany(ctx, docs))(t)
	must(plain.InsertMany(ctx, docs))(t)
	sorted := func(m map[int64]bool) []int64 {
		var out []int64
		for id := range m {
			out = append(out, id)
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	check := func(what string, filter bson.D, want map[int64]bool) {
		opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
		a := ids(t, must(indexed.Find(ctx, filter, opts))(t))
		b := ids(t, must(plain.Find(ctx, filter, opts))(t))
		w := sorted(want)
		if fmt.Sprint(a) != fmt.Sprint(w) || fmt.Sprint(b) != fmt.Sprint(w) {
			t.Fatalf("%s:\n indexed %v\n scanned %v\n brute   %v", what, a, b, w)
		}
		if n := must(indexed.CountDocuments(ctx, filter))(t); n != int64(len(w)) {
			t.Fatalf("%s: indexed count %d, brute force %d", what, n, len(w))
		}
	}
	nonEmpty := 0
	for round := 0; round < 60; round++ {
		c := randomPoint(r)
		radius := r.Float64() * 0.03
		want := map[int64]bool{}
		for id, p := range points {
			if d := angleBetween(c, p); math.Abs(d-radius) < 1e-9 {
				continue // on the edge: either answer is right
			} else if d <= radius && id%3 == 1 {
				want[id] = true
			}
		}
		filter := bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$centerSphere", Value: bson.A{bson.A{c.lon, c.lat}, radius}}}}}},
			{Key: "n", Value: 1}}
		check(fmt.Sprintf("cap %v r=%g", c, radius), filter, want)

		ring := starPolygon(r, randomPoint(r), 3+r.Intn(12), r.Float64()*0.03)
		want = map[int64]bool{}
		for id, p := range points {
			if insideBrute(ring, p) {
				want[id] = true
			}
		}
		nonEmpty += len(want)
		filter = bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$geometry", Value: bson.D{
			{Key: "type", Value: "Polygon"}, {Key: "coordinates", Value: bson.A{geoJSONRing(ring)}}}}}}}}}
		check(fmt.Sprintf("polygon %v", ring), filter, want)

		// $geoNear: nearest first, distances in metres, within maxDistance.
		maxD := r.Float64() * 200000
		cur := must(indexed.Aggregate(ctx, mongo.Pipeline{
			{{Key: "$geoNear", Value: bson.D{{Key: "near", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{c.lon, c.lat}}}},
				{Key: "distanceField", Value: "dist"}, {Key: "maxDistance", Value: maxD}, {Key: "spherical", Value: true}}}},
			{{Key: "$limit", Value: 50}}}))(t)
		var got []int64
		last := -1.0
		for cur.Next(ctx) {
			id := cur.Current.Lookup("_id").AsInt64()
			dist := cur.Current.Lookup("dist").Double()
			brute := angleBetween(c, points[id]) * 6378100
			if math.Abs(dist-brute) > 0.01 || dist > maxD || dist < last {
				t.Fatalf("$geoNear %v: %d at %f m, brute force %f m, max %f, previous %f", c, id, dist, brute, maxD, last)
			}
			last = dist
			got = append(got, id)
		}
		inRange := 0
		for _, p := range points {
			if angleBetween(c, p)*6378100 <= maxD-0.01 {
				inRange++
			}
		}
		if len(got) != min(50, inRange) && len(got) != min(50, inRange+1) {
			t.Fatalf("$geoNear %v max %f: %d results, brute force %d in range", c, maxD, len(got), inRange)
		}
		// A page further on, with a query SQL answers (n) and one it cannot
		// ($mod): both in distance order, then _id, as the brute force.
		for _, q := range []bson.D{{{Key: "n", Value: 1}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: 0}}}},
			{{Key: "n", Value: bson.D{{Key: "$mod", Value: bson.A{3, 1}}}}}} {
			var want []int64
			for id, p := range points {
				if id%3 == 1 && angleBetween(c, p)*6378100 <= maxD {
					want = append(want, id)
				}
			}
			sort.Slice(want, func(i, j int) bool {
				di, dj := angleBetween(c, points[want[i]]), angleBetween(c, points[want[j]])
				if math.Abs(di-dj) > 1e-12 {
					return di < dj
				}
				return want[i] < want[j]
			})
			want = want[min(5, len(want)):]
			want = want[:min(10, len(want))]
			cur := must(indexed.Aggregate(ctx, mongo.Pipeline{
				{{Key: "$geoNear", Value: bson.D{{Key: "near", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{c.lon, c.lat}}}},
					{Key: "distanceField", Value: "dist"}, {Key: "maxDistance", Value: maxD}, {Key: "query", Value: q}}}},
				{{Key: "$skip", Value: 5}}, {{Key: "$limit", Value: 10}}}))(t)
			var page []int64
			for cur.Next(ctx) {
				page = append(page, cur.Current.Lookup("_id").AsInt64())
			}
			if len(page) != len(want) || (len(want) > 0 && fmt.Sprint(page[:len(want)-1]) != fmt.Sprint(want[:len(want)-1])) {
				t.Fatalf("$geoNear %v max %f query %v, page 2:\n got   %v\n brute %v", c, maxD, q, page, want)
			}
		}
	}
	if nonEmpty == 0 {
		t.Fatal("no polygon held any point: the test tests nothing")
	}
	// With every condition in SQL, the geometry is decided there: no document is read to filter.
	var plan struct {
		Roost struct{ SQL string } `bson:"roost"`
	}
	must(struct{}{}, db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "indexed"},
		{Key: "filter", Value: bson.D{{Key: "n", Value: 1}, {Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{
			{Key: "$centerSphere", Value: bson.A{bson.A{2.35, 48.85}, 0.01}}}}}}}}}}}).Decode(&plan))(t)
	if sql := plan.Roost.SQL; !strings.Contains(sql, "roost_within") || strings.Contains(sql, "JOIN") {
		t.Fatalf("the geometry is not decided in SQL: %s", sql)
	}
}

func TestGeoIndexRefusesWhatItCannotHold(t *testing.T) {
	ts := startServer(t, t.TempDir())
	defer ts.stop()
	ctx := context.Background()
	db := connect(t, ts).Database("geo")
	c := db.Collection("c")
	must(c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "loc", Value: "2dsphere"}}}))(t)
	if _, err := c.InsertOne(ctx, bson.D{{Key: "loc", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{200, 0}}}}}); err == nil {
		t.Error("a point out of bounds was stored under a 2dsphere index")
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "loc", Value: "Paris"}}); err == nil {
		t.Error("a string was stored under a 2dsphere index")
	}
	must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "loc", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{2.35, 48.85}}}}}))(t)
	bowtie := bson.A{bson.A{0, 0}, bson.A{1, 1}, bson.A{1, 0}, bson.A{0, 1}, bson.A{0, 0}}
	_, err := c.Find(ctx, bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$geometry", Value: bson.D{
		{Key: "type", Value: "Polygon"}, {Key: "coordinates", Value: bson.A{bowtie}}}}}}}}})
	if err == nil {
		t.Error("a self-intersecting polygon was accepted")
	}
	// A query through the index is an IXSCAN of it.
	var out bson.Raw
	filter := bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$centerSphere", Value: bson.A{bson.A{2.35, 48.85}, 0.001}}}}}}}
	if err := db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "c"}, {Key: "filter", Value: filter}}}}).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if plan := out.Lookup("queryPlanner", "winningPlan").String(); !contains(plan, "2dsphere") || contains(plan, "COLLSCAN") {
		t.Errorf("a $geoWithin on a 2dsphere path should be an IXSCAN of it: %s %s", plan, out.Lookup("roost"))
	}
	if n := must(c.CountDocuments(ctx, filter))(t); n != 1 {
		t.Errorf("count in the cap: %d", n)
	}
	// A cap of 1.12 cm still finds a point 1.11 cm from its centre: the
	// index's box comes from the radius itself, not from its cosine (which
	// rounds to 1).
	must(c.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "loc", Value: bson.A{0, 1e-7}}}))(t)
	tiny := bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$centerSphere", Value: bson.A{bson.A{0, 0}, 0.0112 / 6378100}}}}}}}
	if n := must(c.CountDocuments(ctx, tiny))(t); n != 1 {
		t.Errorf("a point 1.11 cm from the centre of a 1.12 cm cap: counted %d", n)
	}
	// One point written twice (180 and -180) is a repeated vertex.
	twice := bson.A{bson.A{170, 0}, bson.A{180, 0}, bson.A{-180, 0}, bson.A{170, 5}, bson.A{170, 0}}
	if _, err := c.Find(ctx, bson.D{{Key: "loc", Value: bson.D{{Key: "$geoWithin", Value: bson.D{{Key: "$geometry", Value: bson.D{
		{Key: "type", Value: "Polygon"}, {Key: "coordinates", Value: bson.A{twice}}}}}}}}}); err == nil {
		t.Error("a ring through 180 and -180 at the same latitude was accepted")
	}
}
