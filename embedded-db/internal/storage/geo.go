// 2dsphere indexes over SQLite's R*Tree: each point is kept as its unit
// vector (x, y, z) in a three-dimensional R*Tree g<N>_<seq>(id = the row's
// rid, x0, x1, y0, y1, z0, z1, +lon, +lat). A shape's bounding cap becomes
// a box in that space — one box, whatever the poles and the antimeridian,
// which is why the vectors are indexed rather than longitude and latitude.
// The R*Tree gives candidates; the exact geometry (query/geo.go) is then
// checked in SQL on the point kept beside the box (roost_within,
// geosql.go), so that a count or a page reads no document. An index made
// before the point was kept there only narrows, and Go decides.
package storage

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"roost.local/embedded-db/internal/query"
	"sort"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// geoPoint reads the point a document holds on a 2dsphere index's path:
// has is false when it holds nothing there (null or missing: MongoDB's
// 2dsphere indexes, version 2 and later, leave those documents out), and
// an error when it holds something that is not a point.
func geoPoint(ix *Index, doc bsoncore.Document) (lon, lat float64, has bool, err error) {
	val := query.LookupOne(doc, query.SplitPath(ix.keys[0].path))
	if query.Missing(val) || val.Type == bsoncore.TypeNull {
		return 0, 0, false, nil
	}
	lon, lat, ok := query.Point(val)
	if !ok {
		return 0, 0, false, query.Errorf(16755, "Location16755",
			"Can't extract geo keys: %s is not a GeoJSON Point or a [longitude, latitude] pair within bounds (index %s)",
			ix.keys[0].path, ix.Name)
	}
	return lon, lat, true, nil
}

// createGeoIndex makes the R*Tree of a new 2dsphere index and fills it.
func (db *Database) createGeoIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE VIRTUAL TABLE %s USING rtree(id, x0, x1, y0, y1, z0, z1, +lon, +lat)`,
		ix.sqlName)); err != nil {
		return err
	}
	ix.geoAux = true
	rows, err := allRows(ctx, tx, c)
	if err != nil {
		return err
	}
	for _, row := range rows {
		lon, lat, has, err := geoPoint(ix, row.Doc)
		if err != nil {
			return err
		}
		if has {
			if err := insertGeo(ctx, tx, ix, row.rid, lon, lat); err != nil {
				return err
			}
		}
	}
	return nil
}

func insertGeo(ctx context.Context, tx *sql.Tx, ix *Index, rid int64, lon, lat float64) error {
	v := query.UnitVec(lon, lat)
	if !ix.geoAux {
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s VALUES (?, ?, ?, ?, ?, ?, ?)`, ix.sqlName),
			rid, v[0], v[0], v[1], v[1], v[2], v[2])
		return err
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ix.sqlName),
		rid, v[0], v[0], v[1], v[1], v[2], v[2], lon, lat)
	return err
}

// checkGeo refuses a document a 2dsphere index of c cannot hold, before
// anything of it is written.
func (c *Collection) checkGeo(doc bsoncore.Document) error {
	for _, ix := range c.Indexes {
		if ix.geo {
			if _, _, _, err := geoPoint(ix, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGeo keeps every 2dsphere index of c in step with row rid, now
// holding doc (nil: deleted).
func (db *Database) writeGeo(ctx context.Context, tx *sql.Tx, c *Collection, rid int64, doc bsoncore.Document) error {
	for _, ix := range c.Indexes {
		if !ix.geo {
			continue
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = ?`, ix.sqlName), rid); err != nil {
			return err
		}
		if doc == nil {
			continue
		}
		lon, lat, has, err := geoPoint(ix, doc)
		if err != nil {
			return err
		}
		if has {
			if err := insertGeo(ctx, tx, ix, rid, lon, lat); err != nil {
				return err
			}
		}
	}
	return nil
}

// geoIndex is c's 2dsphere index on path, if any.
func (c *Collection) geoIndex(path string) *Index {
	for _, ix := range c.Indexes {
		if ix.geo && ix.keys[0].path == path {
			return ix
		}
	}
	return nil
}

// capBox is the box, in unit-vector space, that holds every point of the
// cap about centre of angular radius r: along each axis, the point's
// component is the cosine of its angle to the axis, which lies within r
// of the centre's angle to it.
func capBox(centre query.Vec3, r float64) [6]float64 {
	var box [6]float64
	for i := 0; i < 3; i++ {
		alpha := math.Acos(math.Max(-1, math.Min(1, centre[i])))
		lo := math.Cos(math.Min(math.Pi, alpha+r))
		hi := math.Cos(math.Max(0, alpha-r))
		// A margin for rounding: the R*Tree only narrows, the shape decides.
		box[2*i], box[2*i+1] = lo-1e-9, hi+1e-9
	}
	return box
}

// translateGeo narrows a $geoWithin / $geoIntersects on a 2dsphere path to
// the rows whose point's vector lies in the shape's box. Never exact.
func (c *Collection) translateGeo(f *query.FieldNode) (cond, bool) {
	ix := c.geoIndex(f.PathStr)
	if ix == nil || f.Geo == nil {
		return cond{}, false
	}
	centre, r := f.Geo.Bound()
	b := capBox(centre, r)
	box := "x1 >= ? AND x0 <= ? AND y1 >= ? AND y0 <= ? AND z1 >= ? AND z0 <= ?"
	args := []any{b[0], b[1], b[2], b[3], b[4], b[5]}
	shape := query.EncodeShape(f.Geo)
	if !ix.geoAux || len(shape) == 0 {
		return cond{text: fmt.Sprintf("k.rid IN (SELECT id FROM %s WHERE %s)", ix.sqlName, box), args: args}, true
	}
	// Exact: the same Contains as the matcher, on the point the index keeps.
	return cond{text: fmt.Sprintf("k.rid IN (SELECT id FROM %s WHERE %s AND roost_within(?, lon, lat))", ix.sqlName, box),
		args: append(args, shape), exact: true}, true
}

// GeoPaths are the paths c has a 2dsphere index on.
func (c *Collection) GeoPaths() []string {
	var out []string
	for _, ix := range c.Indexes {
		if ix.geo {
			out = append(out, ix.keys[0].path)
		}
	}
	return out
}

// Near is the order of a $geoNear: by distance from (Lon, Lat) on the
// 2dsphere path Path, nearest first, ties by _id.
type Near struct {
	Path     string
	Lon, Lat float64
}

// readNear reads rs in distance order. When the whole filter is SQL and
// the index keeps its points, SQLite orders by roost_distance and cuts the
// page, so only the page's documents are read; otherwise every match is
// read and sorted here, by the same distance.
func (db *Database) readNear(ctx context.Context, q *sql.Tx, c *Collection, rs ReadSpec) (*ReadResult, error) {
	db.Mu.RLock()
	ix := c.geoIndex(rs.Near.Path)
	cnd, ok := c.translate(rs.Filter)
	keys, docs := c.keysTable(), c.docsTable()
	db.Mu.RUnlock()
	if ix != nil && ix.geoAux && ok && cnd.exact {
		lim := rs.Limit
		if lim <= 0 {
			lim = -1
		}
		// Nearest first is the largest cosine of the angle to the centre: the
		// dot product of unit vectors, in SQLite's own math (no call into Go
		// per row), the same order as the haversine distance.
		// A correlated look-up by rowid, not a join: the R*Tree's own "id"
		// would clash with the key column of _id in the filter.
		v := query.UnitVec(rs.Near.Lon, rs.Near.Lat)
		text := fmt.Sprintf("SELECT k.rid FROM %s k WHERE %s ORDER BY (SELECT cos(radians(g.lat)) * cos(radians(g.lon)) * ? + "+
			"cos(radians(g.lat)) * sin(radians(g.lon)) * ? + sin(radians(g.lat)) * ? FROM %s g WHERE g.id = k.rid) DESC, "+
			"k.id LIMIT ? OFFSET ?", keys, cnd.text, ix.sqlName)
		args := append(append([]any(nil), cnd.args...), v[0], v[1], v[2], lim, rs.Skip)
		rids, err := db.queryInts(ctx, q, text, args...)
		if err != nil {
			return nil, err
		}
		res := &ReadResult{SQL: text, Args: args, Exact: true}
		res.Docs, err = db.docsByRid(ctx, q, docs, rids)
		res.Examined = int64(len(res.Docs))
		return res, err
	}
	res, err := db.Read(ctx, q, c, ReadSpec{Filter: rs.Filter})
	if err != nil {
		return nil, err
	}
	parts := query.SplitPath(rs.Near.Path)
	type item struct {
		dist float64
		id   []byte
		doc  bsoncore.Document
	}
	items := make([]item, len(res.Docs))
	for i, d := range res.Docs {
		items[i] = item{math.Inf(1), query.KeyOf(d.Lookup("_id")), d}
		if lon, lat, ok := query.Point(query.LookupOne(d, parts)); ok {
			items[i].dist = query.Haversine(lon, lat, rs.Near.Lon, rs.Near.Lat)
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].dist != items[j].dist {
			return items[i].dist < items[j].dist
		}
		return bytes.Compare(items[i].id, items[j].id) < 0
	})
	for i := range items {
		res.Docs[i] = items[i].doc
	}
	res.Docs = skipLimitDocs(res.Docs, rs.Skip, rs.Limit)
	return res, nil
}

func skipLimitDocs(docs []bsoncore.Document, skip, limit int64) []bsoncore.Document {
	if skip >= int64(len(docs)) {
		return nil
	}
	docs = docs[skip:]
	if limit > 0 && int64(len(docs)) > limit {
		docs = docs[:limit]
	}
	return docs
}
