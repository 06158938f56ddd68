// 2dsphere indexes over SQLite's R*Tree: each point is kept as its unit
// vector (x, y, z) in a three-dimensional R*Tree g<N>_<seq>(id = the row's
// rid, x0, x1, y0, y1, z0, z1). A shape's bounding cap becomes a box in
// that space — one box, whatever the poles and the antimeridian, which is
// why the vectors are indexed rather than longitude and latitude. The
// R*Tree gives candidates; the exact geometry (query/geo.go) is checked on
// each document, so the index only ever narrows.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"roost.local/embedded-db/internal/query"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// geoPoint reads the point a document holds on a 2dsphere index's path:
// has is false when it holds nothing there (null or missing: MongoDB's
// 2dsphere indexes, version 2 and later, leave those documents out), and
// an error when it holds something that is not a point.
func geoPoint(ix *Index, doc bsoncore.Document) (v query.Vec3, has bool, err error) {
	val := query.LookupOne(doc, query.SplitPath(ix.keys[0].path))
	if query.Missing(val) || val.Type == bsoncore.TypeNull {
		return v, false, nil
	}
	lon, lat, ok := query.Point(val)
	if !ok {
		return v, false, query.Errorf(16755, "Location16755",
			"Can't extract geo keys: %s is not a GeoJSON Point or a [longitude, latitude] pair within bounds (index %s)",
			ix.keys[0].path, ix.Name)
	}
	return query.UnitVec(lon, lat), true, nil
}

// createGeoIndex makes the R*Tree of a new 2dsphere index and fills it.
func (db *Database) createGeoIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE VIRTUAL TABLE %s USING rtree(id, x0, x1, y0, y1, z0, z1)`,
		ix.sqlName)); err != nil {
		return err
	}
	rows, err := allRows(ctx, tx, c)
	if err != nil {
		return err
	}
	for _, row := range rows {
		v, has, err := geoPoint(ix, row.Doc)
		if err != nil {
			return err
		}
		if has {
			if err := insertGeo(ctx, tx, ix, row.rid, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func insertGeo(ctx context.Context, tx *sql.Tx, ix *Index, rid int64, v query.Vec3) error {
	_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s VALUES (?, ?, ?, ?, ?, ?, ?)`, ix.sqlName),
		rid, v[0], v[0], v[1], v[1], v[2], v[2])
	return err
}

// checkGeo refuses a document a 2dsphere index of c cannot hold, before
// anything of it is written.
func (c *Collection) checkGeo(doc bsoncore.Document) error {
	for _, ix := range c.Indexes {
		if ix.geo {
			if _, _, err := geoPoint(ix, doc); err != nil {
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
		v, has, err := geoPoint(ix, doc)
		if err != nil {
			return err
		}
		if has {
			if err := insertGeo(ctx, tx, ix, rid, v); err != nil {
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
	return cond{
		text: fmt.Sprintf("k.rid IN (SELECT id FROM %s WHERE x1 >= ? AND x0 <= ? AND y1 >= ? AND y0 <= ? AND z1 >= ? AND z0 <= ?)",
			ix.sqlName),
		args: []any{b[0], b[1], b[2], b[3], b[4], b[5]},
	}, true
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
