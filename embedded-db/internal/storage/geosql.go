// The geometry SQLite decides itself, so that a 2dsphere condition is
// exact in SQL and a count, a sort and a page need no document read.
//
// The answer must be the matcher's (query/geo.go) to the last point. Plain
// arithmetic on each R*Tree row's box decides every point that is clearly
// in or out — by a margin far above the box's and either side's rounding
// — and the matcher itself decides the thin band at the shape's edge,
// through a SQL function registered on every connection:
// roost_within(shape, lon, lat), 1 when the point is in the encoded shape
// (query.EncodeShape). A call into Go, and the lookup of the exact point
// it needs, cost microseconds a row; arithmetic on the box costs
// nanoseconds.
package storage

import (
	"database/sql"
	"fmt"
	"math"
	"roost.local/embedded-db/internal/query"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// driverName is the sqlite3 driver with Roost's functions.
const driverName = "roost_sqlite3"

// shapes caches decoded shapes by their bytes: a query passes the same
// shape for every row it checks.
var shapes struct {
	sync.Mutex
	m map[string]query.Shape
}

func shapeOf(b []byte) query.Shape {
	shapes.Lock()
	defer shapes.Unlock()
	if s, ok := shapes.m[string(b)]; ok {
		return s
	}
	s, err := query.DecodeShape(b)
	if err != nil {
		return nil
	}
	if shapes.m == nil || len(shapes.m) >= 256 {
		shapes.m = map[string]query.Shape{}
	}
	shapes.m[string(b)] = s
	return s
}

func within(shape []byte, lon, lat float64) bool {
	s := shapeOf(shape)
	return s != nil && s.Contains(lon, lat)
}

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		return conn.RegisterFunc("roost_within", within, true)
	}})
}

// boxSlop bounds how far the middle of a point's R*Tree box is from the
// point's unit vector: the R*Tree rounds each coordinate outward to
// float32 (SQLite nudges by 2^-23 relative where the cast went the wrong
// way), under 1.8e-7 an axis, under 3.1e-7 in all.
const boxSlop = 5e-7

// geoExact is the SQL condition, on a row of geoFrom, that its point is in
// s. The middle of the row's box is within boxSlop of the point, so the
// middle being inside (or outside) the shape by more than that decides;
// only a point within a few metres of the edge asks the matcher.
func geoExact(ix *Index, s query.Shape) (string, []any) {
	exact := fmt.Sprintf("roost_within(?, (SELECT lon FROM %s a WHERE a.id = p.id), (SELECT lat FROM %s a WHERE a.id = p.id))",
		ix.sqlName, ix.sqlName)
	eargs := []any{query.EncodeShape(s)}
	switch s := s.(type) {
	case query.Cap:
		if s.Radius >= math.Pi {
			return "1", nil
		}
		// The chord between unit vectors is 2 sin(angle / 2), the
		// haversine's own measure: as precise at a metre as at 1,000 km.
		c := query.UnitVec(s.Lon, s.Lat)
		chord := 2 * math.Sin(s.Radius/2)
		in, out := chord*(1-1e-9)-1e-15-boxSlop, chord*(1+1e-9)+1e-15+boxSlop
		inSq := -1.0
		if in > 0 {
			inSq = in * in
		}
		d2 := "((sx / 2 - ?) * (sx / 2 - ?) + (sy / 2 - ?) * (sy / 2 - ?) + (sz / 2 - ?) * (sz / 2 - ?))"
		ca := []any{c[0], c[0], c[1], c[1], c[2], c[2]}
		text := fmt.Sprintf("CASE WHEN %s <= ? THEN 1 WHEN %s >= ? THEN 0 ELSE %s END", d2, d2, exact)
		return text, append(append(append(append(ca, inSq), ca...), out*out), eargs...)
	case *query.Polygon:
		normals, margin, convex := s.ConvexPlanes()
		if !convex {
			return exact, eargs
		}
		margin += boxSlop
		dot := "(sx * ? + sy * ? + sz * ?)" // twice n·middle
		centre, _ := s.Bound()
		ins, inArgs := []string{dot + " > ?"}, []any{centre[0], centre[1], centre[2], 2 * (1e-9 + boxSlop)}
		var outs []string
		var outArgs []any
		for _, n := range normals {
			ins, inArgs = append(ins, dot+" >= ?"), append(inArgs, n[0], n[1], n[2], 2*margin)
			outs, outArgs = append(outs, dot+" <= ?"), append(outArgs, n[0], n[1], n[2], -2*margin)
		}
		text := fmt.Sprintf("CASE WHEN %s THEN 1 WHEN %s THEN 0 ELSE %s END",
			strings.Join(ins, " AND "), strings.Join(outs, " OR "), exact)
		return text, append(append(inArgs, outArgs...), eargs...)
	}
	return exact, eargs
}
