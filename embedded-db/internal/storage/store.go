// Storage: one SQLite file per database (WAL, so reads never wait for the
// writer), and in it, per collection,
//
//	c<N>(rid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, f1 BLOB, f2 BLOB, ...)
//	d<N>(rid INTEGER PRIMARY KEY, doc BLOB NOT NULL)
//
// c<N> holds the key (internal/query/keys.go) of _id and of every field some index names,
// one column per field path; each MongoDB index is a SQLite index over
// those columns (plus id, so that ties keep a stable order). d<N> holds the
// documents as BSON. Keeping the documents apart keeps the key rows small,
// so scans of keys never read documents they do not return. The catalog
// (collections, field columns, index specs) lives in _roost_* tables of the
// same file and is cached in memory.
//
// Writes to one database are serialised by a mutex and run in one SQLite
// transaction each, which is what makes every write command atomic here,
// findAndModify and conditional updates included, and unique indexes are
// SQLite's own UNIQUE indexes.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"roost.local/embedded-db/internal/query"
	"sort"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type Store struct {
	dir string
	log *slog.Logger
	mu  sync.Mutex
	dbs map[string]*Database
}

type Database struct {
	name  string
	sql   *sql.DB
	write sync.Mutex   // one writer at a time
	Mu    sync.RWMutex // guards colls and the collections' metadata
	Colls map[string]*Collection

	profileMu sync.Mutex
	profiling int32

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	counts  counts      // counts kept with the writes (counts.go)
	changes []docChange // the documents the current write transaction wrote; guarded by write
}

type Collection struct {
	name    string
	num     int64
	fields  map[string]*field // by path; "_id" is the id column
	Indexes []*Index
}

type field struct {
	path     string
	parts    []string
	col      string
	multikey bool // some document holds an array on this path: its key is not a plain value
}

type indexKey struct {
	path string
	dir  int // 1 or -1
}

type Index struct {
	Name       string
	keys       []indexKey
	unique     bool
	geo        bool // a 2dsphere index: one key, an R*Tree (geo.go)
	text       bool // a text index: an FTS5 table (text.go)
	textFields []query.TextField
	Spec       bsoncore.Document // as createIndexes gave it, for listIndexes
	sqlName    string
}

func Open(dir string, log *slog.Logger) (*Store, error) {
	return &Store{dir: dir, log: log, dbs: map[string]*Database{}}, nil
}

func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, db := range s.dbs {
		db.sql.Close()
	}
}

// validDBName follows MongoDB's rules for database names, which also keep
// them safe as file names.
func validDBName(name string) bool {
	return name != "" && len(name) < 64 && !strings.ContainsAny(name, "/\\. \"$*<>:|?\x00")
}

// A database's file: <name>.roost.sqlite, which no database name can clash
// with (names hold no '.') and which FerretDB's files (<name>.sqlite) in an
// older data directory are not mistaken for.
const DBFileSuffix = ".roost.sqlite"

func (s *Store) Path(name string) string { return filepath.Join(s.dir, name+DBFileSuffix) }

// Database opens (and, with create, makes) a database.
func (s *Store) Database(name string, create bool) (*Database, error) {
	if !validDBName(name) {
		return nil, query.Errorf(73, "InvalidNamespace", "invalid database name: '%s'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if db := s.dbs[name]; db != nil {
		return db, nil
	}
	path := s.Path(name)
	if _, err := os.Stat(path); err != nil && !create {
		return nil, nil
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate" +
		"&_cache_size=-16000"
	conn, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(16)
	conn.SetMaxIdleConns(16)
	db := &Database{name: name, sql: conn, Colls: map[string]*Collection{}, stmts: map[string]*sql.Stmt{}}
	if err := db.loadCatalog(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	s.dbs[name] = db
	return db, nil
}

// Names lists the databases on disk.
func (s *Store) Names() []string {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*"+DBFileSuffix))
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), DBFileSuffix))
	}
	sort.Strings(out)
	return out
}

// Drop removes a database and its file.
func (s *Store) Drop(name string) error {
	s.mu.Lock()
	db := s.dbs[name]
	delete(s.dbs, name)
	s.mu.Unlock()
	if db != nil {
		db.write.Lock()
		db.sql.Close()
		db.write.Unlock()
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(s.Path(name) + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

const catalogSchema = `
CREATE TABLE IF NOT EXISTS _roost_collections(name TEXT PRIMARY KEY, num INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _roost_fields(coll TEXT NOT NULL, path TEXT NOT NULL, col TEXT NOT NULL,
	multikey INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (coll, path));
CREATE TABLE IF NOT EXISTS _roost_indexes(coll TEXT NOT NULL, name TEXT NOT NULL, spec BLOB NOT NULL,
	sql_name TEXT NOT NULL, PRIMARY KEY (coll, name));
`

func (db *Database) loadCatalog() error {
	if _, err := db.sql.Exec(catalogSchema); err != nil {
		return err
	}
	rows, err := db.sql.Query(`SELECT name, num FROM _roost_collections`)
	if err != nil {
		return err
	}
	for rows.Next() {
		c := &Collection{fields: map[string]*field{}}
		if err := rows.Scan(&c.name, &c.num); err != nil {
			rows.Close()
			return err
		}
		c.fields["_id"] = &field{path: "_id", parts: []string{"_id"}, col: "id"}
		db.Colls[c.name] = c
	}
	rows.Close()
	rows, err = db.sql.Query(`SELECT coll, path, col, multikey FROM _roost_fields`)
	if err != nil {
		return err
	}
	for rows.Next() {
		f := &field{}
		var coll string
		if err := rows.Scan(&coll, &f.path, &f.col, &f.multikey); err != nil {
			rows.Close()
			return err
		}
		f.parts = query.SplitPath(f.path)
		if c := db.Colls[coll]; c != nil {
			c.fields[f.path] = f
		}
	}
	rows.Close()
	rows, err = db.sql.Query(`SELECT coll, name, spec, sql_name FROM _roost_indexes ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var coll, name, sqlName string
		var spec []byte
		if err := rows.Scan(&coll, &name, &spec, &sqlName); err != nil {
			return err
		}
		ix, err := ParseIndexSpec(bsoncore.Document(spec))
		if err != nil {
			return err
		}
		ix.sqlName = sqlName
		if c := db.Colls[coll]; c != nil {
			c.Indexes = append(c.Indexes, ix)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return db.upgradeGeo()
}

// Collection finds a Collection (nil when it does not exist).
func (db *Database) Collection(name string) *Collection {
	db.Mu.RLock()
	defer db.Mu.RUnlock()
	return db.Colls[name]
}

func (c *Collection) keysTable() string { return fmt.Sprintf("c%d", c.num) }
func (c *Collection) docsTable() string { return fmt.Sprintf("d%d", c.num) }

// column is the key column of a path usable in SQL: not multikey.
func (c *Collection) column(path string) (string, bool) {
	f := c.fields[path]
	if f == nil || f.multikey {
		return "", false
	}
	return f.col, true
}

func ValidCollName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "$") && !strings.ContainsRune(name, 0) && len(name) < 200
}

// CreateCollection makes a collection inside a write transaction.
// The caller holds db.write.
func (db *Database) CreateCollection(ctx context.Context, tx *sql.Tx, name string) (*Collection, error) {
	if c := db.Collection(name); c != nil {
		return c, nil
	}
	if !ValidCollName(name) {
		return nil, query.Errorf(73, "InvalidNamespace", "invalid collection name: '%s'", name)
	}
	var num int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(num), 0) + 1 FROM _roost_collections`).Scan(&num); err != nil {
		return nil, err
	}
	c := &Collection{name: name, num: num, fields: map[string]*field{"_id": {path: "_id", parts: []string{"_id"}, col: "id"}}}
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE %s(rid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE)`, c.keysTable()),
		fmt.Sprintf(`CREATE TABLE %s(rid INTEGER PRIMARY KEY, doc BLOB NOT NULL)`, c.docsTable()),
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO _roost_collections(name, num) VALUES (?, ?)`, name, num); err != nil {
		return nil, err
	}
	db.Mu.Lock()
	db.Colls[name] = c
	db.Mu.Unlock()
	return c, nil
}

// DropCollection removes a collection and its tables. The caller holds db.write.
func (db *Database) DropCollection(ctx context.Context, tx *sql.Tx, c *Collection) error {
	drops := []string{`DROP TABLE IF EXISTS ` + c.keysTable(), `DROP TABLE IF EXISTS ` + c.docsTable()}
	for _, ix := range c.Indexes {
		if ix.geo || ix.text {
			drops = append(drops, `DROP TABLE IF EXISTS `+ix.sqlName)
		}
	}
	for _, s := range drops {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	for _, t := range []string{"_roost_collections", "_roost_fields", "_roost_indexes"} {
		col := "coll"
		if t == "_roost_collections" {
			col = "name"
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, t, col), c.name); err != nil {
			return err
		}
	}
	db.changes = append(db.changes, docChange{coll: c.name, dropped: true})
	return nil
}

// ForgetCollection drops a dropped collection from the cache, after commit.
func (db *Database) ForgetCollection(name string) {
	db.Mu.Lock()
	delete(db.Colls, name)
	db.Mu.Unlock()
	db.forgetStatements()
}

// forgetStatements closes the prepared statements, whose tables may be gone.
func (db *Database) forgetStatements() {
	db.stmtMu.Lock()
	for q, st := range db.stmts {
		st.Close()
		delete(db.stmts, q)
	}
	db.stmtMu.Unlock()
}

// stmt prepares (once) a statement used again and again.
func (db *Database) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st := db.stmts[query]; st != nil {
		return st, nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(db.stmts) > 512 { // a bound, not a cache policy: queries here come from a few code paths
		for q, old := range db.stmts {
			old.Close()
			delete(db.stmts, q)
		}
	}
	db.stmts[query] = st
	return st, nil
}

// query runs a read: prepared once when the text repeats.
func (db *Database) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := db.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// AtSavepoint runs fn, one statement of a write command, so that when it
// fails (err) it leaves nothing: neither rows nor the changes counts.go and
// marks.go would apply at commit. fatal: the savepoint itself failed.
func (db *Database) AtSavepoint(ctx context.Context, tx *sql.Tx, fn func() error) (err, fatal error) {
	if _, fatal = tx.ExecContext(ctx, "SAVEPOINT stmt"); fatal != nil {
		return nil, fatal
	}
	kept := len(db.changes)
	if err = fn(); err != nil {
		if _, fatal = tx.ExecContext(ctx, "ROLLBACK TO stmt"); fatal != nil {
			return err, fatal
		}
		db.changes = db.changes[:kept]
	}
	_, fatal = tx.ExecContext(ctx, "RELEASE stmt")
	return err, fatal
}

// InWrite runs fn in one write transaction, one writer at a time.
func (db *Database) InWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	db.write.Lock()
	defer db.write.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	db.changes = db.changes[:0]
	if err := fn(tx); err != nil {
		tx.Rollback()
		db.changes = db.changes[:0]
		// A failed transaction may have changed the cached catalog: read it again.
		if rerr := db.reloadCatalog(); rerr != nil {
			return rerr
		}
		return err
	}
	db.counts.begin(db.changes)
	err = tx.Commit()
	db.counts.end(db.changes, err == nil)
	db.changes = db.changes[:0]
	return err
}

func (db *Database) reloadCatalog() error {
	db.Mu.Lock()
	db.Colls = map[string]*Collection{}
	db.Mu.Unlock()
	db.forgetStatements()
	return db.loadCatalog()
}

// ensureField gives `path` a key column, filling it for the documents
// already stored. The caller holds db.write.
func (db *Database) ensureField(ctx context.Context, tx *sql.Tx, c *Collection, path string) (*field, error) {
	if f := c.fields[path]; f != nil {
		return f, nil
	}
	n := 1
	for _, f := range c.fields {
		var k int
		if _, err := fmt.Sscanf(f.col, "f%d", &k); err == nil && k >= n {
			n = k + 1
		}
	}
	f := &field{path: path, parts: query.SplitPath(path), col: fmt.Sprintf("f%d", n)}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s BLOB NOT NULL DEFAULT x'%02x'`,
		c.keysTable(), f.col, query.ClsMissing)); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT rid, doc FROM %s`, c.docsTable()))
	if err != nil {
		return nil, err
	}
	type fill struct {
		rid int64
		key []byte
	}
	var fills []fill
	for rows.Next() {
		var rid int64
		var doc []byte
		if err := rows.Scan(&rid, &doc); err != nil {
			rows.Close()
			return nil, err
		}
		key, multi := fieldKey(bsoncore.Document(doc), f.parts)
		f.multikey = f.multikey || multi
		fills = append(fills, fill{rid, key})
	}
	rows.Close()
	upd := fmt.Sprintf(`UPDATE %s SET %s = ? WHERE rid = ?`, c.keysTable(), f.col)
	for _, x := range fills {
		if _, err := tx.ExecContext(ctx, upd, x.key, x.rid); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO _roost_fields(coll, path, col, multikey) VALUES (?, ?, ?, ?)`,
		c.name, path, f.col, f.multikey); err != nil {
		return nil, err
	}
	c.fields[path] = f
	return f, nil
}

// fieldKey is the key of a document's value on a path; multi reports an
// array on the way or at the end (then the key is that of the array of
// every value reached, and queries on the path are answered in Go).
func fieldKey(doc bsoncore.Document, parts []string) (key []byte, multi bool) {
	cur := query.VDoc(doc)
	for i, p := range parts {
		switch cur.Type {
		case bsoncore.TypeEmbeddedDocument:
			next, err := bsoncore.Document(cur.Data).LookupErr(p)
			if err != nil {
				return query.MissingKey, false
			}
			cur = next
		case bsoncore.TypeArray:
			vals := query.Resolve(cur, parts[i:], nil)
			return query.KeyOf(query.VArray(vals)), true
		default:
			return query.MissingKey, false
		}
	}
	if cur.Type == bsoncore.TypeArray {
		return query.KeyOf(cur), true
	}
	return query.KeyOf(cur), false
}

// markMultikey records that a path's column holds arrays.
func (db *Database) markMultikey(ctx context.Context, tx *sql.Tx, c *Collection, f *field) error {
	if f.multikey {
		return nil
	}
	f.multikey = true
	_, err := tx.ExecContext(ctx, `UPDATE _roost_fields SET multikey = 1 WHERE coll = ? AND path = ?`, c.name, f.path)
	return err
}

// keyColumns lists the key columns of a collection in a stable order.
func (c *Collection) keyColumns() []*field {
	var out []*field
	for _, f := range c.fields {
		if f.col != "id" {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].col < out[j].col })
	return out
}

// isUniqueViolation reports SQLite's UNIQUE constraint failures and the
// columns they name ("UNIQUE constraint failed: c3.f1, c3.id").
func isUniqueViolation(err error) ([]string, bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique {
		return nil, false
	}
	msg := se.Error()
	i := strings.Index(msg, "failed: ")
	if i < 0 {
		return nil, true
	}
	var cols []string
	for _, part := range strings.Split(msg[i+len("failed: "):], ",") {
		part = strings.TrimSpace(part)
		if dot := strings.IndexByte(part, '.'); dot >= 0 {
			part = part[dot+1:]
		}
		cols = append(cols, part)
	}
	return cols, true
}

// ProfileLevel is the database's profiling level (explain.go's profile).
func (db *Database) ProfileLevel() int32 {
	db.profileMu.Lock()
	defer db.profileMu.Unlock()
	return db.profiling
}

// SetProfileLevel sets the level unless level is -1 (only asked), and
// answers the level it was.
func (db *Database) SetProfileLevel(level int32) int32 {
	db.profileMu.Lock()
	defer db.profileMu.Unlock()
	was := db.profiling
	if level >= 0 {
		db.profiling = level
	}
	return was
}
