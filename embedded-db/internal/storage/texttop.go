// A page of text matches by score without reading every match's keys.
//
// Ordering every match by bm25 joined to its keys costs a lookup and a sort
// entry per match (19,000 listings hold two common words at 100k): FTS5
// alone ranks its rows for less. So the best rows of the MATCH are read
// first, by score, and only then their keys, for the rest of the filter.
// Every row scoring above the last one read is known, so when enough of
// them pass the rest of the filter the page is among them, in the full
// query's order (score, then _id); otherwise the full query runs.
package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
)

// topFetch is how many of the best rows topScored reads for rs's page.
func topFetch(rs ReadSpec) int64 { return 2*(rs.Skip+rs.Limit) + 64 }

type scored struct {
	rid int64
	s   float64
	id  []byte
}

// topScored answers the page of rs (by score, then _id) from the rows
// FTS5 ranks best; ok is false when they cannot be shown to hold it.
func (db *Database) topScored(ctx context.Context, q *sql.Tx, ix *Index, match string, rest cond, keys string,
	rs ReadSpec) (page []scored, ok bool, err error) {
	pageEnd, fetch := rs.Skip+rs.Limit, topFetch(rs)
	best, err := db.bestScored(ctx, q, ix, match, fetch)
	if err != nil {
		return nil, false, err
	}
	complete := int64(len(best)) < fetch
	if !complete {
		// Rows at the last score read may have twins unread: keep those above.
		bar := best[len(best)-1].s
		for len(best) > 0 && best[len(best)-1].s <= bar {
			best = best[:len(best)-1]
		}
	}
	if !complete && int64(len(best)) < pageEnd {
		return nil, false, nil
	}
	score := make(map[int64]float64, len(best))
	list := make([]int64, len(best))
	for i, b := range best {
		score[b.rid], list[i] = b.s, b.rid
	}
	in, _ := json.Marshal(list)
	rows, err := db.rows(ctx, q, fmt.Sprintf("SELECT k.rid, k.id FROM %s k WHERE k.rid IN (SELECT value FROM json_each(?)) AND %s",
		keys, rest.text), append([]any{string(in)}, rest.args...)...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var kept []scored
	for rows.Next() {
		var r scored
		if err := rows.Scan(&r.rid, &r.id); err != nil {
			return nil, false, err
		}
		r.s = score[r.rid]
		kept = append(kept, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if !complete && int64(len(kept)) < pageEnd {
		return nil, false, nil
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].s != kept[j].s {
			return kept[i].s > kept[j].s
		}
		return bytes.Compare(kept[i].id, kept[j].id) < 0
	})
	if rs.Skip >= int64(len(kept)) {
		return nil, true, nil
	}
	return kept[rs.Skip:min(int64(len(kept)), pageEnd)], true, nil
}

// bestScored is the first n rows of the MATCH by score, best first.
func (db *Database) bestScored(ctx context.Context, q *sql.Tx, ix *Index, match string, n int64) ([]scored, error) {
	rows, err := db.rows(ctx, q, bestScoredSQL(ix), match, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []scored
	for rows.Next() {
		var r scored
		if err := rows.Scan(&r.rid, &r.s); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// bestScoredSQL ranks a MATCH by score in FTS5 alone: what explain and the
// profiler show of a page topScored answers.
func bestScoredSQL(ix *Index) string {
	return fmt.Sprintf("SELECT rowid, %s AS s FROM %s WHERE %s MATCH ? ORDER BY s DESC LIMIT ?", bm25(ix), ix.sqlName, ix.sqlName)
}
