// The geometry SQLite checks itself: two SQL functions, registered on every
// connection, so that a 2dsphere condition is decided in SQL — exactly, by
// the same Go code as the matcher (query/geo.go) — and a count, a sort and
// a page need no document read:
//
//	roost_within(shape, lon, lat)   1 when the point is in the encoded shape (query.EncodeShape)
//	roost_distance(lon1, lat1, lon2, lat2)   the angle between two points, in radians (haversine)
//
// The R*Tree of a 2dsphere index keeps each point's longitude and latitude
// as auxiliary columns (+lon, +lat) for them; an index made before those
// columns existed still narrows through its boxes, and Go decides.
package storage

import (
	"database/sql"
	"roost.local/embedded-db/internal/query"
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
		if err := conn.RegisterFunc("roost_within", within, true); err != nil {
			return err
		}
		return conn.RegisterFunc("roost_distance", query.Haversine, true)
	}})
}
