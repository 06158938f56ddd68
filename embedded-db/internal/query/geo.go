// Geometry on the sphere, as MongoDB's 2dsphere queries mean it: points
// are GeoJSON Points {type: "Point", coordinates: [lon, lat]} (or legacy
// [lon, lat] pairs) in WGS84 degrees; $centerSphere caps take their radius
// in radians; polygon edges are great-circle arcs; distances are on a
// sphere of radius 6,378,100 m (MongoDB's kRadiusOfEarthInMeters).
//
// A polygon is tested in its gnomonic projection about its own centre,
// which maps great circles to straight lines: point-in-polygon on the
// sphere becomes the planar even-odd test, exactly. That needs the polygon
// within a hemisphere; larger ones (MongoDB's "big polygons", which need a
// custom CRS there too) are refused.
package query

import (
	"encoding/binary"
	"math"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// EarthRadiusM is the sphere's radius MongoDB computes distances with.
const EarthRadiusM = 6378100.0

// Vec3 is a point on the unit sphere.
type Vec3 [3]float64

func (a Vec3) Dot(b Vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// UnitVec is the unit vector of a longitude and latitude in degrees.
func UnitVec(lon, lat float64) Vec3 {
	lo, la := lon*math.Pi/180, lat*math.Pi/180
	return Vec3{math.Cos(la) * math.Cos(lo), math.Cos(la) * math.Sin(lo), math.Sin(la)}
}

// Haversine is the angle, in radians, between two points in degrees:
// accurate for small and large angles alike.
func Haversine(lon1, lat1, lon2, lat2 float64) float64 {
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * math.Asin(math.Sqrt(math.Min(1, h)))
}

// Point reads a GeoJSON Point or a legacy [lon, lat] pair; ok is false for
// anything else, including coordinates out of range.
func Point(v bsoncore.Value) (lon, lat float64, ok bool) {
	var coords bsoncore.Value
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument:
		d := bsoncore.Document(v.Data)
		if t, isStr := d.Lookup("type").StringValueOK(); !isStr || t != "Point" {
			return 0, 0, false
		}
		coords = d.Lookup("coordinates")
	case bsoncore.TypeArray:
		coords = v
	default:
		return 0, 0, false
	}
	arr, isArr := coords.ArrayOK()
	if !isArr {
		return 0, 0, false
	}
	vals, _ := arr.Values()
	if len(vals) != 2 {
		return 0, 0, false
	}
	lon, ok1 := Number(vals[0])
	lat, ok2 := Number(vals[1])
	if !ok1 || !ok2 || !(math.Abs(lon) <= 180) || !(math.Abs(lat) <= 90) {
		return 0, 0, false
	}
	return lon, lat, true
}

// Shape is a region of the sphere a point can be in.
type Shape interface {
	Contains(lon, lat float64) bool
	// Bound is a cap holding the whole shape: its centre and its angular
	// radius in radians. What an index probe looks in.
	Bound() (Vec3, float64)
}

// Cap is every point within Radius radians of (Lon, Lat): $centerSphere.
type Cap struct {
	Lon, Lat, Radius float64
}

func (c Cap) Contains(lon, lat float64) bool {
	return Haversine(c.Lon, c.Lat, lon, lat) <= c.Radius
}

func (c Cap) Bound() (Vec3, float64) {
	return UnitVec(c.Lon, c.Lat), math.Min(c.Radius, math.Pi)
}

// Polygon is a GeoJSON Polygon of one ring (first position = last).
type Polygon struct {
	Ring   [][2]float64 // lon, lat; closed
	centre Vec3
	radius float64      // the largest angle from the centre to a vertex
	plane  [][2]float64 // the ring in the gnomonic projection about centre
	u, w   Vec3         // the projection plane's axes
}

// NewPolygon checks a ring as MongoDB does (closed, at least four
// positions, no edge crossing another) and prepares it for tests.
func NewPolygon(ring [][2]float64) (*Polygon, error) {
	if len(ring) < 4 {
		return nil, BadValue("Polygon: a ring needs at least 4 positions, the first repeated last")
	}
	if ring[0] != ring[len(ring)-1] {
		return nil, BadValue("Polygon: the ring is not closed (its first and last positions differ)")
	}
	for _, p := range ring {
		if !(math.Abs(p[0]) <= 180) || !(math.Abs(p[1]) <= 90) {
			return nil, BadValue("Polygon: longitude/latitude is out of bounds: [%g, %g]", p[0], p[1])
		}
	}
	if i, j, repeated := repeatedVertex(ring); repeated {
		return nil, BadValue("Polygon: the ring is not valid: vertices %d and %d are the same point", i, j)
	}
	pg := &Polygon{Ring: ring}
	var sum Vec3
	for _, p := range ring[:len(ring)-1] {
		v := UnitVec(p[0], p[1])
		sum = Vec3{sum[0] + v[0], sum[1] + v[1], sum[2] + v[2]}
	}
	n := math.Sqrt(sum.Dot(sum))
	if n < 1e-9 {
		return nil, BadValue("Polygon: it spans more than a hemisphere, which roost-embedded-db does not support")
	}
	pg.centre = Vec3{sum[0] / n, sum[1] / n, sum[2] / n}
	for _, p := range ring {
		v := UnitVec(p[0], p[1])
		if v.Dot(pg.centre) < 1e-6 {
			return nil, BadValue("Polygon: it spans more than a hemisphere, which roost-embedded-db does not support")
		}
		pg.radius = math.Max(pg.radius, Angle(v, pg.centre))
	}
	// Axes of the plane tangent at the centre.
	ref := Vec3{0, 0, 1}
	if math.Abs(pg.centre[2]) > 0.9 {
		ref = Vec3{1, 0, 0}
	}
	pg.u = normalize(cross(ref, pg.centre))
	pg.w = cross(pg.centre, pg.u)
	for _, p := range ring {
		x, y, _ := pg.project(UnitVec(p[0], p[1]))
		pg.plane = append(pg.plane, [2]float64{x, y})
	}
	if i, j, crossed := selfIntersection(pg.plane); crossed {
		return nil, BadValue("Polygon: the ring is not valid: edges %d and %d cross", i, j)
	}
	return pg, nil
}

func cross(a, b Vec3) Vec3 {
	return Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func normalize(a Vec3) Vec3 {
	n := math.Sqrt(a.Dot(a))
	return Vec3{a[0] / n, a[1] / n, a[2] / n}
}

// project is the gnomonic projection about the centre; ok is false on the
// far hemisphere, which the projection does not reach.
func (pg *Polygon) project(v Vec3) (x, y float64, ok bool) {
	d := v.Dot(pg.centre)
	if d <= 0 {
		return 0, 0, false
	}
	return v.Dot(pg.u) / d, v.Dot(pg.w) / d, true
}

func (pg *Polygon) Bound() (Vec3, float64) { return pg.centre, pg.radius }

// Angle between two unit vectors, in radians: atan2 of the sine and the
// cosine, accurate for tiny angles where acos of the dot product is not.
func Angle(a, b Vec3) float64 {
	c := cross(a, b)
	return math.Atan2(math.Sqrt(c.Dot(c)), a.Dot(b))
}

// ConvexPlanes, when the ring is convex (every turn the same way in the
// gnomonic plane, where edges are straight), gives the unit normals of its
// edges' great circles, each pointing inward, and a margin: a point whose
// dot product with every normal is at least margin (and on the centre's
// hemisphere) is inside for Contains too, one at most -margin with any
// normal is outside, whatever the rounding of either.
func (pg *Polygon) ConvexPlanes() (normals []Vec3, margin float64, ok bool) {
	n := len(pg.plane) - 1
	turn, scale := 0.0, 1.0
	for i := 0; i < n; i++ {
		t := orient(pg.plane[i], pg.plane[(i+1)%n], pg.plane[(i+2)%n])
		if t == 0 || (turn != 0 && (t > 0) != (turn > 0)) {
			return nil, 0, false
		}
		turn = t
		scale = math.Max(scale, math.Max(math.Abs(pg.plane[i][0]), math.Abs(pg.plane[i][1])))
	}
	for i := 0; i < n; i++ {
		a, b := UnitVec(pg.Ring[i][0], pg.Ring[i][1]), UnitVec(pg.Ring[i+1][0], pg.Ring[i+1][1])
		// a × (b - a): the difference of near vertices is exact, so a short
		// edge's normal keeps its precision (a × b would lose it).
		nv := normalize(cross(a, Vec3{b[0] - a[0], b[1] - a[1], b[2] - a[2]}))
		if nv.Dot(pg.centre) < 0 {
			nv = Vec3{-nv[0], -nv[1], -nv[2]}
		}
		normals = append(normals, nv)
	}
	// Contains compares projected coordinates, which grow with the
	// polygon's reach from its centre (scale); its rounding stays far below.
	return normals, 1e-10 * scale, true
}

func (pg *Polygon) Contains(lon, lat float64) bool {
	x, y, ok := pg.project(UnitVec(lon, lat))
	if !ok {
		return false
	}
	in := false
	for i, j := 0, len(pg.plane)-2; i < len(pg.plane)-1; j, i = i, i+1 {
		a, b := pg.plane[i], pg.plane[j]
		if (a[1] > y) != (b[1] > y) && x < (b[0]-a[0])*(y-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

// selfIntersection finds two edges of a closed planar ring that cross or
// touch, other than neighbours at their shared vertex.
func selfIntersection(ring [][2]float64) (int, int, bool) {
	n := len(ring) - 1
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if j == i+1 || (i == 0 && j == n-1) {
				continue // neighbours share a vertex
			}
			if segmentsMeet(ring[i], ring[i+1], ring[j], ring[j+1]) {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// repeatedVertex finds two vertices of a closed ring that are one point,
// however written (180 and -180, or any longitude at a pole).
func repeatedVertex(ring [][2]float64) (int, int, bool) {
	n := len(ring) - 1
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if Angle(UnitVec(ring[i][0], ring[i][1]), UnitVec(ring[j][0], ring[j][1])) < 1e-12 {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

func orient(a, b, c [2]float64) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

func onSegment(a, b, p [2]float64) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

func segmentsMeet(p1, p2, q1, q2 [2]float64) bool {
	d1, d2 := orient(q1, q2, p1), orient(q1, q2, p2)
	d3, d4 := orient(p1, p2, q1), orient(p1, p2, q2)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(q1, q2, p1)) || (d2 == 0 && onSegment(q1, q2, p2)) ||
		(d3 == 0 && onSegment(p1, p2, q1)) || (d4 == 0 && onSegment(p1, p2, q2))
}

// parseGeometry reads a $geometry: a GeoJSON Polygon of one ring.
func parseGeometry(v bsoncore.Value) (Shape, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return nil, BadValue("$geometry must be a GeoJSON object")
	}
	t, _ := d.Lookup("type").StringValueOK()
	if t != "Polygon" {
		return nil, Errorf(2, "BadValue", "$geometry of type '%s' is not supported by roost-embedded-db: only Polygon", t)
	}
	rings, ok := d.Lookup("coordinates").ArrayOK()
	if !ok {
		return nil, BadValue("Polygon coordinates must be an array of rings")
	}
	rv, _ := rings.Values()
	if len(rv) == 0 {
		return nil, BadValue("Polygon has no ring")
	}
	if len(rv) > 1 {
		return nil, Errorf(2, "BadValue", "a Polygon with holes is not supported by roost-embedded-db")
	}
	pos, ok := rv[0].ArrayOK()
	if !ok {
		return nil, BadValue("a Polygon ring must be an array of positions")
	}
	pv, _ := pos.Values()
	ring := make([][2]float64, 0, len(pv))
	for _, p := range pv {
		lon, lat, ok := Point(p)
		if !ok || p.Type != bsoncore.TypeArray {
			return nil, BadValue("a Polygon position must be [longitude, latitude] within bounds")
		}
		ring = append(ring, [2]float64{lon, lat})
	}
	return NewPolygon(ring)
}

// parseGeoOp reads the argument of $geoWithin or $geoIntersects.
func parseGeoOp(op string, arg bsoncore.Value) (Shape, error) {
	d, ok := arg.DocumentOK()
	if !ok {
		return nil, BadValue("%s must be an object", op)
	}
	elems, _ := d.Elements()
	if len(elems) != 1 {
		return nil, BadValue("%s takes exactly one shape", op)
	}
	e := elems[0]
	switch {
	case e.Key() == "$geometry":
		return parseGeometry(e.Value())
	case e.Key() == "$centerSphere" && op == "$geoWithin":
		arr, ok := e.Value().ArrayOK()
		vals, _ := arr.Values()
		if !ok || len(vals) != 2 {
			return nil, BadValue("$centerSphere takes [[longitude, latitude], radius in radians]")
		}
		lon, lat, ok := Point(vals[0])
		r, rok := Number(vals[1])
		if !ok || vals[0].Type != bsoncore.TypeArray || !rok || !(r >= 0) || math.IsInf(r, 0) {
			return nil, BadValue("$centerSphere takes [[longitude, latitude], radius in radians]")
		}
		return Cap{Lon: lon, Lat: lat, Radius: r}, nil
	}
	return nil, Errorf(2, "BadValue", "%s with %s is not supported by roost-embedded-db", op, e.Key())
}

// GeoMatch: whether any value reached is a point inside the shape.
func geoMatch(shape Shape, vals []bsoncore.Value) bool {
	for _, v := range vals {
		if lon, lat, ok := Point(v); ok && shape.Contains(lon, lat) {
			return true
		}
	}
	return false
}

// EncodeShape writes a shape as bytes — 'C' and a cap's longitude,
// latitude and radius, or 'P' and a polygon's ring — for the SQL function
// that checks points in SQLite (storage/geosql.go); DecodeShape reads it.
func EncodeShape(s Shape) []byte {
	var out []byte
	put := func(f float64) { out = binary.LittleEndian.AppendUint64(out, math.Float64bits(f)) }
	switch s := s.(type) {
	case Cap:
		out = append(out, 'C')
		put(s.Lon)
		put(s.Lat)
		put(s.Radius)
	case *Polygon:
		out = append(out, 'P')
		for _, p := range s.Ring {
			put(p[0])
			put(p[1])
		}
	}
	return out
}

func DecodeShape(b []byte) (Shape, error) {
	if len(b) < 1 || (len(b)-1)%8 != 0 {
		return nil, BadValue("not an encoded shape")
	}
	var f []float64
	for i := 1; i < len(b); i += 8 {
		f = append(f, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	switch {
	case b[0] == 'C' && len(f) == 3:
		return Cap{Lon: f[0], Lat: f[1], Radius: f[2]}, nil
	case b[0] == 'P' && len(f)%2 == 0:
		ring := make([][2]float64, len(f)/2)
		for i := range ring {
			ring[i] = [2]float64{f[2*i], f[2*i+1]}
		}
		return NewPolygon(ring)
	}
	return nil, BadValue("not an encoded shape")
}
