// Counts per value of an indexed field, for a $group of {$sum: 1}s: read
// from the keys with SQL the first time, then kept with the writes
// (counts.go). Documents are never read.
package storage

import (
	"context"
	"fmt"
	"roost.local/embedded-db/internal/query"
)

// GroupCounts: how many documents matching rs hold each value of path (by
// its encoded key); ok is false when the keys cannot say (no column for
// path, or a filter SQL cannot answer whole), and the documents must be
// read instead.
func (db *Database) GroupCounts(ctx context.Context, c *Collection, rs ReadSpec, path string) (groups map[string]int64, res *ReadResult, ok bool, err error) {
	cacheKey := "$group\x00" + path + "\x00" + rs.FilterKey
	groups, res, found, gen := db.counts.lookupGroups(c.name, cacheKey)
	if found {
		return groups, res, true, nil
	}
	db.Mu.RLock()
	col, hasCol := c.column(path)
	cnd, translated := c.translate(rs.Filter)
	keys := c.keysTable()
	db.Mu.RUnlock()
	if !hasCol || !translated || !cnd.exact {
		return nil, nil, false, nil
	}
	text := fmt.Sprintf("SELECT %s, COUNT(*) FROM %s k WHERE %s GROUP BY %s", col, keys, cnd.text, col)
	if groups, err = db.groupRows(ctx, text, cnd.args); err != nil || groups == nil {
		return nil, nil, false, err
	}
	res = &ReadResult{SQL: text, Args: cnd.args, Exact: true}
	kept := &countEntry{filter: rs.Filter, res: res, groups: make(map[string]int64, len(groups)), parts: query.SplitPath(path)}
	for k, n := range groups {
		kept.groups[k] = n
		kept.n += n
	}
	db.counts.fill(c.name, cacheKey, gen, kept)
	return groups, res, true, nil
}

// groupRows reads "SELECT key, COUNT(*) ... GROUP BY key" into counts per
// group (groupKey); nil when some key does not say its value (then the
// documents are read instead).
func (db *Database) groupRows(ctx context.Context, text string, args []any) (map[string]int64, error) {
	rows, err := db.query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	groups := map[string]int64{}
	for rows.Next() {
		var key []byte
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		k, ok := groupKey(key)
		if !ok {
			return nil, nil
		}
		groups[k] += n
	}
	return groups, rows.Err()
}
