// The $geoNear stage: the documents near a point, nearest first, each with
// its distance in metres — MongoDB's way to page through a map search by
// distance (a find's $near cannot be counted or skipped through a
// pipeline). It must be the pipeline's first stage and needs a 2dsphere
// index. The index narrows the candidates to the maxDistance cap
// (storage/geo.go); distances are exact, on MongoDB's sphere.
package handler

import (
	"context"
	"math"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type geoNearSpec struct {
	lon, lat           float64
	distanceField      string
	key                string
	minD, maxD         float64 // metres; maxD +Inf when unbounded
	multiplier         float64
	filter             bsoncore.Document
	spherical, hasNear bool
}

func parseGeoNear(arg bsoncore.Value) (*geoNearSpec, error) {
	d, ok := arg.DocumentOK()
	if !ok {
		return nil, query.Errorf(10065, "Location10065", "$geoNear needs an object")
	}
	g := &geoNearSpec{maxD: math.Inf(1), multiplier: 1}
	elems, _ := d.Elements()
	for _, e := range elems {
		v := e.Value()
		var num bool
		switch e.Key() {
		case "near":
			if v.Type != bsoncore.TypeEmbeddedDocument {
				return nil, query.Errorf(2, "BadValue", "$geoNear: near must be a GeoJSON Point here")
			}
			g.lon, g.lat, g.hasNear = query.Point(v)
			if !g.hasNear {
				return nil, query.Errorf(2, "BadValue", "$geoNear: near must be a GeoJSON Point within bounds")
			}
		case "distanceField":
			g.distanceField, ok = v.StringValueOK()
			if !ok || g.distanceField == "" || strings.HasPrefix(g.distanceField, "$") {
				return nil, query.Errorf(2, "BadValue", "$geoNear: distanceField must be a field name")
			}
			if strings.Contains(g.distanceField, ".") {
				return nil, query.NotSupported("$geoNear with a dotted distanceField")
			}
		case "key":
			if g.key, ok = v.StringValueOK(); !ok || g.key == "" {
				return nil, query.Errorf(2, "BadValue", "$geoNear: key must be a non-empty string")
			}
		case "query":
			if g.filter, ok = v.DocumentOK(); !ok {
				return nil, query.Errorf(2, "BadValue", "$geoNear: query must be an object")
			}
		case "spherical":
			g.spherical = query.Truthy(v)
		case "maxDistance":
			g.maxD, num = query.Number(v)
		case "minDistance":
			g.minD, num = query.Number(v)
		case "distanceMultiplier":
			g.multiplier, num = query.Number(v)
		default:
			return nil, query.NotSupported("$geoNear option " + e.Key())
		}
		if (e.Key() == "maxDistance" || e.Key() == "minDistance" || e.Key() == "distanceMultiplier") && (!num || !(g.maxD >= 0) ||
			!(g.minD >= 0) || !(g.multiplier >= 0)) {
			return nil, query.Errorf(2, "BadValue", "$geoNear: %s must be a non-negative number", e.Key())
		}
	}
	if !g.hasNear {
		return nil, query.Errorf(2, "BadValue", "$geoNear requires a 'near' option")
	}
	if g.distanceField == "" {
		return nil, query.Errorf(2, "BadValue", "$geoNear requires a 'distanceField' option")
	}
	return g, nil
}

// geoNear answers a leading $geoNear: every document in range that the
// query matches, nearest first (ties by _id), with its distance; `skip`
// and `limit` (0: none) are the $skip and $limit right after it, which
// storage applies in SQL when it can (storage.Near).
func (s *Handler) geoNear(ctx context.Context, db *storage.Database, c *storage.Collection, arg bsoncore.Value,
	skip, limit int64) (docs []bsoncore.Document, res *storage.ReadResult, paged bool, err error) {
	g, err := parseGeoNear(arg)
	if err != nil {
		return nil, nil, false, err
	}
	db.Mu.RLock()
	paths := c.GeoPaths()
	db.Mu.RUnlock()
	switch {
	case g.key == "" && len(paths) == 1:
		g.key = paths[0]
	case g.key == "" && len(paths) > 1:
		return nil, nil, false, query.Errorf(2, "BadValue", "$geoNear: more than one 2dsphere index, name the one to use with 'key'")
	}
	found := false
	for _, p := range paths {
		found = found || p == g.key
	}
	if !found {
		return nil, nil, false, query.Errorf(291, "IndexNotFound", "$geoNear: unable to find a 2dsphere index for %q", g.key)
	}
	filter, err := query.CompileFilter(g.filter)
	if err != nil {
		return nil, nil, false, err
	}
	if query.FindText(filter) != nil {
		return nil, nil, false, query.BadValue("$geoNear: the query cannot hold a $text (MongoDB refuses text and geoNear in the same query)")
	}
	radius := math.Pi // no maxDistance: the whole sphere, still through the index
	if !math.IsInf(g.maxD, 1) {
		radius = math.Min(math.Pi, g.maxD/query.EarthRadiusM)
	}
	parts := query.SplitPath(g.key)
	within := &query.FieldNode{Path: parts, PathStr: g.key, Op: "$geoWithin",
		Geo: query.Cap{Lon: g.lon, Lat: g.lat, Radius: radius}}
	paged = g.minD == 0 // else the page is cut after the inner bound
	if !paged {
		skip, limit = 0, 0
	}
	res, err = db.Read(ctx, nil, c, storage.ReadSpec{Filter: query.AndNode{within, filter},
		Near: &storage.Near{Path: g.key, Lon: g.lon, Lat: g.lat}, Skip: skip, Limit: limit})
	if err != nil {
		return nil, nil, false, err
	}
	out := make([]bsoncore.Document, 0, len(res.Docs))
	for _, doc := range res.Docs {
		lon, lat, ok := query.Point(query.LookupOne(doc, parts))
		if !ok {
			continue
		}
		dist := query.Haversine(g.lon, g.lat, lon, lat) * query.EarthRadiusM
		if dist < g.minD || dist > g.maxD {
			continue
		}
		out = append(out, withField(doc, g.distanceField, query.VDouble(dist*g.multiplier)))
	}
	return out, res, paged, nil
}

// withField is doc with the top-level field name set to v (replaced, or last).
func withField(doc bsoncore.Document, name string, v bsoncore.Value) bsoncore.Document {
	idx, out := bsoncore.AppendDocumentStart(nil)
	elems, _ := doc.Elements()
	for _, e := range elems {
		if e.Key() != name {
			out = append(out, e...)
		}
	}
	out = bsoncore.AppendValueElement(out, name, v)
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}
