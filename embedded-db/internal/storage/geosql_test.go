// geoExact's arithmetic against the matcher it stands in for: points a
// hair's breadth either side of caps and convex polygons, at every scale
// from a centimetre to a continent. Where the arithmetic answers, it must
// be the matcher's answer; the band it leaves to the matcher must be thin.
package storage

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"roost.local/embedded-db/internal/query"
)

// toward is the point at angle theta from unit vector c, along bearing b.
func toward(c query.Vec3, b, theta float64) (lon, lat float64) {
	ref := query.Vec3{0, 0, 1}
	if math.Abs(c[2]) > 0.9 {
		ref = query.Vec3{1, 0, 0}
	}
	u := unitOf(crossOf(ref, c))
	w := crossOf(c, u)
	var v query.Vec3
	for i := range v {
		v[i] = c[i]*math.Cos(theta) + (u[i]*math.Cos(b)+w[i]*math.Sin(b))*math.Sin(theta)
	}
	return math.Atan2(v[1], v[0]) * 180 / math.Pi, math.Asin(math.Max(-1, math.Min(1, v[2]))) * 180 / math.Pi
}

func crossOf(a, b query.Vec3) query.Vec3 {
	return query.Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func unitOf(a query.Vec3) query.Vec3 {
	n := math.Sqrt(a.Dot(a))
	return query.Vec3{a[0] / n, a[1] / n, a[2] / n}
}

// edgeDistance is the sine of the angle from v to the nearest great
// circle of the ring's edges.
func edgeDistance(ring [][2]float64, v query.Vec3) float64 {
	least := math.Inf(1)
	for i := 0; i+1 < len(ring); i++ {
		a, b := query.UnitVec(ring[i][0], ring[i][1]), query.UnitVec(ring[i+1][0], ring[i+1][1])
		n := unitOf(crossOf(a, query.Vec3{b[0] - a[0], b[1] - a[1], b[2] - a[2]}))
		least = math.Min(least, math.Abs(n.Dot(v)))
	}
	return least
}

func TestGeoArithmeticAgreesWithTheMatcher(t *testing.T) {
	conn, err := sql.Open(driverName, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	if _, err := conn.Exec("CREATE VIRTUAL TABLE g USING rtree(" + geoColumns + ")"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(11))
	decided, band := 0, 0
	// far: the points at least 1e-6 radians (6 m: boxes are float32) and a
	// hundred-millionth of the shape's size from its edge, which the
	// arithmetic must decide.
	check := func(what string, s query.Shape, pts [][2]float64, far []bool) {
		if _, err := conn.Exec("DELETE FROM g"); err != nil {
			t.Fatal(err)
		}
		for i, p := range pts {
			v := query.UnitVec(p[0], p[1])
			if _, err := conn.Exec("INSERT INTO g VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", i+1,
				v[0], v[0], v[1], v[1], v[2], v[2], p[0], p[1]); err != nil {
				t.Fatal(err)
			}
		}
		ix := &Index{sqlName: "g"}
		text, args := geoExact(ix, s)
		// The arithmetic alone: -1 where it leaves the point to the matcher.
		arith := text[:strings.Index(text, "roost_within(")] + "-1 END"
		for _, expr := range []string{text, arith} {
			a := args
			if expr == arith {
				a = args[:len(args)-1]
			}
			rows, err := conn.Query("SELECT p.id, g.lon, g.lat, "+expr+" FROM "+geoFrom(ix, "1")+" JOIN g ON g.id = p.id ORDER BY p.id", a...)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, got int
				var lon, lat float64
				if err := rows.Scan(&id, &lon, &lat, &got); err != nil {
					t.Fatal(err)
				}
				want := 0
				if s.Contains(lon, lat) {
					want = 1
				}
				if expr == arith && got == -1 {
					if far[id-1] {
						t.Fatalf("%s: point %d (%.17g, %.17g), far from the edge, is left to the matcher", what, id, lon, lat)
					}
					band++
					continue
				}
				if expr == arith {
					decided++
				}
				if got != want {
					t.Fatalf("%s: point %d (%.17g, %.17g): SQL says %d, the matcher %d\n%s", what, id, lon, lat, got, want, expr)
				}
			}
			rows.Close()
		}
	}
	offsets := []float64{0}
	for e := -15; e <= -2; e++ {
		offsets = append(offsets, math.Pow(10, float64(e)), -math.Pow(10, float64(e)))
	}
	for round := 0; round < 40; round++ {
		lon, lat := r.Float64()*360-180, math.Asin(r.Float64()*2-1)*180/math.Pi
		if round%10 == 0 {
			lat = 89.9999 * float64(1-2*(round/10%2)) // the poles
		}
		c := query.UnitVec(lon, lat)
		radius := math.Pow(10, -9+8*r.Float64()) // a centimetre to 6,000 km
		var pts [][2]float64
		var far []bool
		for _, off := range offsets {
			for k := 0; k < 4; k++ {
				plon, plat := toward(c, r.Float64()*2*math.Pi, radius*(1+off))
				pts = append(pts, [2]float64{plon, plat})
				far = append(far, math.Abs(off) >= 1e-8 && math.Abs(off)*radius >= 1e-6)
			}
		}
		check(fmt.Sprintf("cap (%g, %g) r=%g", lon, lat, radius), query.Cap{Lon: lon, Lat: lat, Radius: radius}, pts, far)

		// A regular polygon about the same centre (convex), or a box as
		// bbox= sends; points beside each edge's great circle.
		n := 3 + r.Intn(8)
		var ring [][2]float64
		size := math.Min(radius, 0.5)
		if round%2 == 0 {
			d := size * 180 / math.Pi
			mid := math.Max(-89+d, math.Min(89-d, lat)) // no sliver pressed against a pole
			w, s, e, nn := lon-d, mid-d, lon+d, mid+d
			if w < -180 || e > 180 {
				w, e = -d, d
			}
			ring = [][2]float64{{w, s}, {e, s}, {e, nn}, {w, nn}, {w, s}}
		} else {
			rot := r.Float64() * 2 * math.Pi
			for i := 0; i < n; i++ {
				plon, plat := toward(c, rot+2*math.Pi*float64(i)/float64(n), size)
				ring = append(ring, [2]float64{plon, plat})
			}
			ring = append(ring, ring[0])
		}
		pg, err := query.NewPolygon(ring)
		if err != nil {
			continue
		}
		if _, _, convex := pg.ConvexPlanes(); !convex {
			t.Fatalf("%v is convex, ConvexPlanes says not", ring)
		}
		pts, far = nil, nil
		for i := 0; i+1 < len(ring); i++ {
			a, b := query.UnitVec(ring[i][0], ring[i][1]), query.UnitVec(ring[i+1][0], ring[i+1][1])
			nrm := unitOf(crossOf(a, b))
			for _, off := range offsets {
				f := r.Float64()
				m := unitOf(query.Vec3{a[0]*(1-f) + b[0]*f, a[1]*(1-f) + b[1]*f, a[2]*(1-f) + b[2]*f})
				var v query.Vec3
				for j := range v {
					v[j] = m[j] + nrm[j]*off*size
				}
				v = unitOf(v)
				pts = append(pts, [2]float64{math.Atan2(v[1], v[0]) * 180 / math.Pi, math.Asin(v[2]) * 180 / math.Pi})
				far = append(far, edgeDistance(ring, v) >= 1e-6)
			}
		}
		check(fmt.Sprintf("polygon %v", ring), pg, pts, far)
	}
	if decided == 0 || band == 0 {
		t.Fatalf("the arithmetic decided %d points, the matcher %d: the test misses a side", decided, band)
	}
	t.Logf("arithmetic decided %d points, the matcher %d", decided, band)
}
