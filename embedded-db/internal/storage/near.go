// Pages of a filter with a 2dsphere shape, in SQL.
//
// $geoNear: the page of the points nearest a centre, among the rows a
// filter SQLite answers whole selects, reading only the page's documents.
// The R*Tree gives the candidates in the filter's shape (or all of them);
// each is joined to its keys row, which holds the point's exact unit
// vector (vecCols), and SQLite orders by the chord from the centre —
// 2 sin(angle / 2), so the haversine's order, as precise at a metre as at
// 1,000 km — then by _id, and cuts the page.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"
)

// shapeDriven is a page read from a 2dsphere index's rows (from, where),
// each joined to its keys row, filtered by the rest of the filter and
// sorted by orderBy: the R*Tree drives (CROSS JOIN), and its own "id"
// stays inside the subquery, apart from _id's column.
func shapeDriven(from, where, keys, rest, orderBy string) string {
	return fmt.Sprintf("SELECT k.rid FROM (SELECT p.id AS gid FROM %s WHERE %s) n CROSS JOIN %s k ON k.rid = n.gid "+
		"WHERE %s ORDER BY %s LIMIT ? OFFSET ?", from, where, keys, rest, orderBy)
}

func (db *Database) readNearSQL(ctx context.Context, q *sql.Tx, ix *Index, cnd cond, rs ReadSpec, keys, docs string) (*ReadResult, error) {
	shape, rest := splitSubset(cnd, ix.sqlName)
	from, where, wargs := geoFrom(ix, "1"), "1", []any(nil)
	if shape != nil {
		from, where, wargs = shape.from, shape.where, shape.args
	}
	lim := rs.Limit
	if lim <= 0 {
		lim = -1
	}
	v, vc := query.UnitVec(rs.Near.Lon, rs.Near.Lat), vecCols(ix)
	text := shapeDriven(from, where, keys, rest.text, fmt.Sprintf("(k.%s - ?) * (k.%s - ?) + (k.%s - ?) * (k.%s - ?) + "+
		"(k.%s - ?) * (k.%s - ?), k.id", vc[0], vc[0], vc[1], vc[1], vc[2], vc[2]))
	args := append(append([]any(nil), wargs...), rest.args...)
	args = append(args, v[0], v[0], v[1], v[1], v[2], v[2], lim, rs.Skip)
	rids, err := db.queryInts(ctx, q, text, args...)
	if err != nil {
		return nil, err
	}
	res := &ReadResult{SQL: text, Args: args, Exact: true}
	res.Docs, err = db.docsByRid(ctx, q, docs, rids)
	res.Examined = int64(len(res.Docs))
	return res, err
}

// shapeRowsBound caps the count of a shape's candidates that chooses a plan.
const shapeRowsBound = 20000

// planShapeDriven gives p, when the filter holds a 2dsphere shape, the
// plan that reads the shape's rows and sorts them (driven), beside
// SQLite's own, which walks the sort's index and checks each row against
// the shape's set: the walk costs about pageEnd × all / inShape entries,
// reading the shape about ten times inShape. A 200 m circle on page 1, or
// a 2 km one on page 50, is cheaper read; a city's map, or a country's,
// is cheaper walked.
func (c *Collection) planShapeDriven(p *ReadPlan, cnd cond, order string, rs ReadSpec) {
	if rs.Limit <= 0 {
		return
	}
	var shape *subset
	for _, t := range append([]cond{cnd}, cnd.parts...) {
		if t.sub != nil && t.sub.fts == "" {
			shape = t.sub
			break
		}
	}
	if shape == nil {
		return
	}
	sub, rest := splitSubset(cnd, shape.table)
	// Ties in the order the walk gives them, by row (an index's last key),
	// so that pages read one way and the next the other neither repeat
	// nor skip a document.
	tie := "k.rid"
	if len(rs.Sort) > 0 && rs.Sort[len(rs.Sort)-1].Dir < 0 {
		tie += " DESC"
	}
	p.driven = shapeDriven(sub.from, sub.where, p.keys, rest.text, prefixCols(order, "k.")+", "+tie)
	p.drivenArgs = append(append(append([]any(nil), sub.args...), rest.args...), rs.Limit, rs.Skip)
	boxArgs := strings.Count(sub.from, "?")
	p.shapeRows = fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d)", sub.from, shapeRowsBound)
	p.shapeArgs = sub.args[:boxArgs]
}

// pickShapeDriven makes p's plan the driven one when it is the cheaper.
func (db *Database) pickShapeDriven(ctx context.Context, q *sql.Tx, p *ReadPlan, rs ReadSpec) error {
	if p.driven == "" {
		return nil
	}
	ints, err := db.queryInts(ctx, q, p.shapeRows, p.shapeArgs...)
	if err != nil || len(ints) == 0 {
		return err
	}
	all, err := db.queryInts(ctx, q, fmt.Sprintf("SELECT coalesce(max(rid), 0) FROM %s", p.keys))
	if err != nil || len(all) == 0 {
		return err
	}
	inShape := ints[0]
	// A row of the shape costs about ten entries of the walk (the exact
	// test, a keys lookup and the sort, against an index step and a probe).
	if inShape < shapeRowsBound && 10*inShape*inShape <= (rs.Skip+rs.Limit)*all[0] {
		p.Text, p.Args, p.trial = p.driven, p.drivenArgs, ""
	}
	return nil
}

// PlanReadAt is PlanRead with the choice Read makes when it runs (a
// shape's page): what explain shows is what runs.
func (db *Database) PlanReadAt(ctx context.Context, c *Collection, rs ReadSpec) (ReadPlan, error) {
	p := db.PlanRead(c, rs)
	err := db.pickShapeDriven(ctx, nil, &p, rs)
	return p, err
}
