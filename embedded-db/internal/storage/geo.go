// 2dsphere indexes over SQLite's R*Tree: each point is kept as its unit
// vector (x, y, z) in a three-dimensional R*Tree g<N>_<seq> (geoColumns;
// id = the row's rid). A shape's bounding cap becomes
// a box in that space — one box, whatever the poles and the antimeridian,
// which is why the vectors are indexed rather than longitude and latitude.
// The R*Tree gives candidates; the exact geometry (query/geo.go) is then
// decided in SQL on the point kept beside the box (geosql.go), so that a
// count or a page reads no document.
package storage

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"roost.local/embedded-db/internal/query"
	"sort"
	"strings"

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

// geoColumns: the box of each point's unit vector (float32, rounded
// outward, so it holds the vector), then the point itself, exact
// (auxiliary columns are stored as given) for the Go matcher. Auxiliary
// columns are read from a table of their own, a lookup per row: SQL works
// on the boxes and reads them only where a box cannot decide (geosql.go).
const geoColumns = "id, x0, x1, y0, y1, z0, z1, +lon, +lat"

// vecCols are the keys table's columns of the unit vector of each point
// ix holds (REAL, exact; NULL without a point): readNear orders by them,
// in the row it reads anyway, where the R*Tree's own columns are float32
// and its auxiliary ones cost a lookup a row.
func vecCols(ix *Index) []string {
	return []string{ix.sqlName + "_x", ix.sqlName + "_y", ix.sqlName + "_z"}
}

// geoKeys appends to a row's key columns the vector columns of every
// 2dsphere index of c (rowKeys).
func (c *Collection) geoKeys(doc bsoncore.Document, cols []string, keys []any) ([]string, []any) {
	for _, ix := range c.Indexes {
		if !ix.geo {
			continue
		}
		cols = append(cols, vecCols(ix)...)
		if lon, lat, has, _ := geoPoint(ix, doc); has {
			v := query.UnitVec(lon, lat)
			keys = append(keys, v[0], v[1], v[2])
		} else {
			keys = append(keys, nil, nil, nil)
		}
	}
	return cols, keys
}

// createGeoIndex makes the R*Tree of a new 2dsphere index and its vector
// columns, and fills them.
func (db *Database) createGeoIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE VIRTUAL TABLE %s USING rtree(%s)`, ix.sqlName, geoColumns)); err != nil {
		return err
	}
	vc := vecCols(ix)
	for _, col := range vc {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s REAL", c.keysTable(), col)); err != nil {
			return err
		}
	}
	rows, err := allRows(ctx, tx, c)
	if err != nil {
		return err
	}
	set := fmt.Sprintf("UPDATE %s SET %s = ?, %s = ?, %s = ? WHERE rid = ?", c.keysTable(), vc[0], vc[1], vc[2])
	for _, row := range rows {
		lon, lat, has, err := geoPoint(ix, row.Doc)
		if err != nil {
			return err
		}
		if !has {
			continue
		}
		if err := insertGeo(ctx, tx, ix, row.rid, lon, lat); err != nil {
			return err
		}
		v := query.UnitVec(lon, lat)
		if _, err := tx.ExecContext(ctx, set, v[0], v[1], v[2], row.rid); err != nil {
			return err
		}
	}
	return nil
}

// dropGeoColumns removes a dropped 2dsphere index's vector columns.
func dropGeoColumns(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) error {
	for _, col := range vecCols(ix) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", c.keysTable(), col)); err != nil {
			return err
		}
	}
	return nil
}

// upgradeGeo remakes, once, each 2dsphere index made before its R*Tree
// kept the points (+lon, +lat) or the keys table their vectors: from the
// documents, so nothing is lost.
func (db *Database) upgradeGeo() error {
	ctx := context.Background()
	for _, c := range db.Colls {
		for _, ix := range c.Indexes {
			if !ix.geo {
				continue
			}
			var rtree string
			if err := db.sql.QueryRow(`SELECT sql FROM sqlite_master WHERE name = ?`, ix.sqlName).Scan(&rtree); err != nil {
				return err
			}
			var vecs int
			if err := db.sql.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.keysTable(),
				vecCols(ix)[0]).Scan(&vecs); err != nil {
				return err
			}
			if strings.Contains(rtree, "+lon") && vecs == 1 {
				continue
			}
			tx, err := db.sql.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err = tx.ExecContext(ctx, "DROP TABLE "+ix.sqlName); err == nil && vecs == 1 {
				err = dropGeoColumns(ctx, tx, c, ix)
			}
			if err == nil {
				err = db.createGeoIndex(ctx, tx, c, ix)
			}
			if err == nil {
				err = tx.Commit()
			}
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("remaking 2dsphere index %s: %w", ix.Name, err)
			}
		}
	}
	return nil
}

func insertGeo(ctx context.Context, tx *sql.Tx, ix *Index, rid int64, lon, lat float64) error {
	v := query.UnitVec(lon, lat)
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

// translateGeo: a $geoWithin / $geoIntersects on a 2dsphere path, exactly:
// the R*Tree's candidates in the shape's box, decided by geoExact.
func (c *Collection) translateGeo(f *query.FieldNode) (cond, bool) {
	ix := c.geoIndex(f.PathStr)
	if ix == nil || f.Geo == nil {
		return cond{}, false
	}
	centre, r := f.Geo.Bound()
	b := capBox(centre, r)
	exact, eargs := geoExact(ix, f.Geo)
	return subsetCond(subset{table: ix.sqlName, rowid: "id",
		from:  geoFrom(ix, "x1 >= ? AND x0 <= ? AND y1 >= ? AND y0 <= ? AND z1 >= ? AND z0 <= ?"),
		where: exact, args: append([]any{b[0], b[1], b[2], b[3], b[4], b[5]}, eargs...)}), true
}

// geoFrom is the rows of ix's R*Tree in a box, each with its box's middle
// times two (sx, sy, sz): read once a row for geoExact and readNear, which
// use them many times. OFFSET 0 keeps SQLite from folding it into its
// users, which would read the box again at every use.
func geoFrom(ix *Index, box string) string {
	return fmt.Sprintf("(SELECT id, x0 + x1 AS sx, y0 + y1 AS sy, z0 + z1 AS sz FROM %s WHERE %s LIMIT -1 OFFSET 0) AS p",
		ix.sqlName, box)
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

// readNear reads rs in distance order: in SQL when the whole filter is
// (near.go); otherwise every match is read and sorted here, by the same
// distance.
func (db *Database) readNear(ctx context.Context, q *sql.Tx, c *Collection, rs ReadSpec) (*ReadResult, error) {
	db.Mu.RLock()
	ix := c.geoIndex(rs.Near.Path)
	cnd, ok := c.translate(rs.Filter)
	keys, docs := c.keysTable(), c.docsTable()
	db.Mu.RUnlock()
	if ix != nil && ok && cnd.exact {
		return db.readNearSQL(ctx, q, ix, cnd, rs, keys, docs)
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
	c0 := query.UnitVec(rs.Near.Lon, rs.Near.Lat)
	for i, d := range res.Docs {
		items[i] = item{math.Inf(1), query.KeyOf(d.Lookup("_id")), d}
		if lon, lat, ok := query.Point(query.LookupOne(d, parts)); ok {
			items[i].dist = chord2(query.UnitVec(lon, lat), c0)
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

// chord2 is the squared chord between unit vectors, computed as
// readNearSQL's ORDER BY computes it, term by term: both paths order
// equal-looking distances (two points mirrored about the centre) alike.
func chord2(v, c query.Vec3) float64 {
	return (v[0]-c[0])*(v[0]-c[0]) + (v[1]-c[1])*(v[1]-c[1]) + (v[2]-c[2])*(v[2]-c[2])
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
