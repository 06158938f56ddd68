// Indexes: a MongoDB index spec {key: {a: 1, b: -1}, name, unique} becomes
// a SQLite index over the key columns of a and b, followed by id so that a
// scan of a non-unique index yields ties in _id order; {loc: "2dsphere"}
// an R*Tree (geo.go), {a: "text", b: "text"} an FTS5 table (text.go).
// Partial, sparse, TTL, hashed, 2d, compound geo and compound text indexes
// are refused: the spec options MongoDB would honour and this
// server would not are an error, never ignored.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func ParseIndexSpec(spec bsoncore.Document) (*Index, error) {
	ix := &Index{Spec: spec}
	elems, err := spec.Elements()
	if err != nil {
		return nil, query.BadValue("index spec is not a document")
	}
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "key":
			kd, ok := v.DocumentOK()
			if !ok {
				return nil, query.Errorf(67, "CannotCreateIndex", "index key pattern must be an object")
			}
			keys, _ := kd.Elements()
			for _, k := range keys {
				if kind, isStr := k.Value().StringValueOK(); isStr && kind == "text" {
					if len(ix.keys) > 0 && !ix.text {
						return nil, query.Errorf(67, "CannotCreateIndex",
							"index key %s: a text index here has text keys only", k.Key())
					}
					ix.text = true
					ix.keys = append(ix.keys, indexKey{path: k.Key()})
					continue
				}
				if ix.text {
					return nil, query.Errorf(67, "CannotCreateIndex", "index key %s: a text index here has text keys only", k.Key())
				}
				if kind, isStr := k.Value().StringValueOK(); isStr {
					if kind != "2dsphere" {
						return nil, query.Errorf(67, "CannotCreateIndex",
							"index key %s: '%s' indexes are not supported by roost-embedded-db (2dsphere is)", k.Key(), kind)
					}
					if len(keys) != 1 {
						return nil, query.Errorf(67, "CannotCreateIndex",
							"index key %s: a 2dsphere index here has that one key only", k.Key())
					}
					ix.geo = true
					ix.keys = append(ix.keys, indexKey{path: k.Key()})
					continue
				}
				dir, ok := query.Integer(k.Value())
				if !ok || (dir != 1 && dir != -1) {
					return nil, query.Errorf(67, "CannotCreateIndex",
						"index key %s: only ascending (1) and descending (-1) keys are supported", k.Key())
				}
				ix.keys = append(ix.keys, indexKey{path: k.Key(), dir: int(dir)})
			}
		case "name":
			ix.Name, _ = v.StringValueOK()
		case "unique":
			ix.unique = query.Truthy(v)
		case "v", "ns", "background", "2dsphereIndexVersion", "language_override", "textIndexVersion":
		case "weights", "default_language":
		case "sparse", "partialFilterExpression", "expireAfterSeconds", "collation", "hidden",
			"bits", "min", "max", "wildcardProjection":
			if e.Key() == "sparse" && !query.Truthy(v) || e.Key() == "hidden" && !query.Truthy(v) {
				continue
			}
			return nil, query.Errorf(67, "CannotCreateIndex", "index option '%s' is not supported by roost-embedded-db", e.Key())
		default:
			return nil, query.Errorf(197, "InvalidIndexSpecificationOption", "the field '%s' is not valid for an index specification", e.Key())
		}
	}
	if len(ix.keys) == 0 {
		return nil, query.Errorf(67, "CannotCreateIndex", "index keys cannot be empty")
	}
	if ix.Name == "" {
		return nil, query.Errorf(9, "FailedToParse", "index specification must have a name")
	}
	_, weighted := spec.LookupErr("weights")
	_, lang := spec.LookupErr("default_language")
	if ix.text {
		if err := parseTextIndex(ix, spec); err != nil {
			return nil, err
		}
	} else if weighted == nil || lang == nil {
		return nil, query.Errorf(67, "CannotCreateIndex", "weights and default_language are options of text indexes")
	}
	return ix, nil
}

// SameKeys: two specs over the same keys in the same order and directions.
func SameKeys(a, b *Index) bool {
	if len(a.keys) != len(b.keys) {
		return false
	}
	for i := range a.keys {
		if a.keys[i] != b.keys[i] {
			return false
		}
	}
	return true
}

func IDIndexSpec() bsoncore.Document {
	return query.BuildDoc("v", query.VInt32(2), "key", query.VDoc(query.BuildDoc("_id", query.VInt32(1))), "name", query.VString("_id_"))
}

// CreateIndex adds one index to a collection. The caller holds db.write.
// created is false when an identical index exists already.
func (db *Database) CreateIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) (created bool, err error) {
	if ix.Name == "_id_" || (len(ix.keys) == 1 && ix.keys[0].path == "_id" && !ix.unique) {
		return false, nil // the _id index always exists
	}
	for _, old := range c.Indexes {
		switch {
		case old.Name == ix.Name && SameKeys(old, ix) && old.unique == ix.unique:
			return false, nil
		case old.Name == ix.Name:
			return false, query.Errorf(86, "IndexKeySpecsConflict",
				"an existing index has the same name as the requested index but different keys or options: %s", ix.Name)
		case SameKeys(old, ix) && old.unique == ix.unique:
			return false, query.Errorf(85, "IndexOptionsConflict",
				"index already exists with a different name: %s", old.Name)
		}
	}
	if ix.geo || ix.text { // a virtual table of its own
		prefix, create := "g", db.createGeoIndex
		if ix.text {
			prefix, create = "t", db.createTextIndex
		}
		if ix.sqlName, err = freeSQLName(ctx, tx, c, prefix); err != nil {
			return false, err
		}
		if err := create(ctx, tx, c, ix); err != nil {
			return false, err
		}
		return db.recordIndex(ctx, tx, c, ix)
	}
	var cols []string
	for _, k := range ix.keys {
		f, err := db.ensureField(ctx, tx, c, k.path)
		if err != nil {
			return false, err
		}
		dir := ""
		if k.dir < 0 {
			dir = " DESC"
		}
		cols = append(cols, f.col+dir)
	}
	if !ix.unique {
		// _id breaks ties, in the direction of the last key, so that a sort
		// on (key, _id) both one way reads the index without a sorter.
		if ix.keys[len(ix.keys)-1].dir < 0 {
			cols = append(cols, "id DESC")
		} else {
			cols = append(cols, "id")
		}
	}
	if ix.sqlName, err = freeSQLName(ctx, tx, c, "x"); err != nil {
		return false, err
	}
	unique := ""
	if ix.unique {
		unique = "UNIQUE "
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE %sINDEX %s ON %s(%s)`, unique, ix.sqlName, c.keysTable(),
		strings.Join(cols, ", "))); err != nil {
		if _, dup := isUniqueViolation(err); dup {
			return false, query.Errorf(11000, "DuplicateKey", "E11000 duplicate key error collection: %s.%s index: %s",
				db.name, c.name, ix.Name)
		}
		return false, err
	}
	// No ANALYZE: statistics taken now (often of an empty collection) would
	// mislead the planner later; its default weighting prefers the index
	// with the most equality terms, then one that also gives the order.
	return db.recordIndex(ctx, tx, c, ix)
}

// freeSQLName is a name for c's next index, <prefix><collection>_<seq>
// (x: a SQLite index, g: an R*Tree), that no table or index has yet.
func freeSQLName(ctx context.Context, tx *sql.Tx, c *Collection, prefix string) (string, error) {
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) + 1 FROM _roost_indexes WHERE coll = ?`, c.name).Scan(&seq); err != nil {
		return "", err
	}
	for ; ; seq++ {
		name := fmt.Sprintf("%s%d_%d", prefix, c.num, seq)
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = ?`, name).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return name, nil
		}
	}
}

// recordIndex writes a made index into the catalog and the cache:
// CreateIndex's answer, created.
func (db *Database) recordIndex(ctx context.Context, tx *sql.Tx, c *Collection, ix *Index) (bool, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO _roost_indexes(coll, name, spec, sql_name) VALUES (?, ?, ?, ?)`,
		c.name, ix.Name, []byte(ix.Spec), ix.sqlName); err != nil {
		return false, err
	}
	c.Indexes = append(c.Indexes, ix)
	return true, nil
}

// DropIndex removes an index by name. The caller holds db.write.
func (db *Database) DropIndex(ctx context.Context, tx *sql.Tx, c *Collection, name string) error {
	for i, ix := range c.Indexes {
		if ix.Name != name {
			continue
		}
		drop := `DROP INDEX IF EXISTS `
		if ix.geo || ix.text {
			drop = `DROP TABLE IF EXISTS `
		}
		if _, err := tx.ExecContext(ctx, drop+ix.sqlName); err != nil {
			return err
		}
		if ix.geo {
			if err := dropGeoColumns(ctx, tx, c, ix); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM _roost_indexes WHERE coll = ? AND name = ?`, c.name, name); err != nil {
			return err
		}
		c.Indexes = append(c.Indexes[:i], c.Indexes[i+1:]...)
		return nil
	}
	return query.Errorf(27, "IndexNotFound", "index not found with name [%s]", name)
}

// indexForColumns names the unique index a UNIQUE failure on `cols` comes from.
func (c *Collection) indexForColumns(cols []string) (*Index, string) {
	if len(cols) == 1 && cols[0] == "id" {
		return nil, "_id_"
	}
	for _, ix := range c.Indexes {
		if !ix.unique || len(ix.keys) != len(cols) {
			continue
		}
		ok := true
		for i, k := range ix.keys {
			f := c.fields[k.path]
			ok = ok && f != nil && f.col == cols[i]
		}
		if ok {
			return ix, ix.Name
		}
	}
	return nil, strings.Join(cols, ",")
}

// indexByColumn finds the index SQLite names in a query plan.
func (c *Collection) indexBySQLName(sqlName string) *Index {
	for _, ix := range c.Indexes {
		if ix.sqlName == sqlName {
			return ix
		}
	}
	return nil
}
