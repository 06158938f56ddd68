// Page marks kept with the writes: deep pages without walking to them.
//
// SQLite answers "LIMIT 20 OFFSET 50000" by stepping over 50,000 index
// entries (about 0.1 µs each), so page N of a list costs O(N). For a sorted
// read whose order is total — its last key is _id and all keys go the same
// way, as every Roost page is — the server remembers, after the first deep
// read, the sort keys of every markStride-th entry and its position. A read
// with skip S then seeks to the last mark at or before S with a row-value
// bound on the same index ("(k, id) >= (?, ?)") and skips only the rest.
//
// Writes keep the positions true: a document that enters or leaves the
// list moves every mark after it by one, decided with the same key bytes
// the index holds and the Go matcher (as counts.go does for counts). A mark
// whose document goes away still bounds the same position: its successor
// takes that place. Positions are used only when no write began or ended
// between reading them and the read finishing; otherwise the plain OFFSET
// read answers.
package storage

import (
	"bytes"
	"context"
	"fmt"
	"roost.local/embedded-db/internal/query"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// MarkStride is the distance between marks, so a marked read skips fewer
// than MarkStride entries; a variable so that tests can mark densely.
var MarkStride int64 = 1000

// marksMax bounds the kept mark lists per database: each costs two matcher
// runs and a pass over its marks on every write to its collection.
const marksMax = 32

type mark struct {
	pos   int64
	tuple [][]byte // the keys of the sort's fields, _id's last
}

type pageMarks struct {
	filter query.Node
	keys   []query.SortKey
	desc   bool
	marks  []mark
}

// tupleOf is a document's keys on the sort's fields, as the index holds them.
func (pm *pageMarks) tupleOf(doc bsoncore.Document) ([][]byte, bool) {
	t := make([][]byte, len(pm.keys))
	for i, k := range pm.keys {
		if k.Path == "_id" {
			t[i] = query.KeyOf(doc.Lookup("_id"))
			continue
		}
		key, multi := fieldKey(doc, k.Parts)
		if multi {
			return nil, false
		}
		t[i] = key
	}
	return t, true
}

// after reports whether tuple a comes after b in the sort's order.
func (pm *pageMarks) after(a, b [][]byte) bool {
	for i := range a {
		if c := bytes.Compare(a[i], b[i]); c != 0 {
			return (c > 0) != pm.desc
		}
	}
	return false
}

func (pm *pageMarks) matches(doc bsoncore.Document) bool { return pm.filter.Match(doc) }

// move shifts the marks after a document that entered (by 1) or left (-1).
func (pm *pageMarks) move(doc bsoncore.Document, by int64) bool {
	t, ok := pm.tupleOf(doc)
	if !ok {
		return false
	}
	for i := range pm.marks {
		if pm.after(pm.marks[i].tuple, t) {
			pm.marks[i].pos += by
		}
	}
	return true
}

// markable: the sort's columns (the last being _id's) when every key goes
// the same way; ok is false for any other order.
func markable(c *Collection, keys []query.SortKey) (cols []string, ok bool) {
	if len(keys) == 0 || keys[len(keys)-1].Path != "_id" {
		return nil, false
	}
	for _, k := range keys {
		col, has := c.column(k.Path)
		if !has || k.Dir != keys[0].Dir {
			return nil, false
		}
		cols = append(cols, col)
	}
	return cols, true
}

// markedPlan rewrites an exact, SQL-sorted page read with a large skip to
// start at a kept mark, building the marks first if they are not kept.
// It returns the generation the marks belong to, for the check after.
func (db *Database) markedPlan(ctx context.Context, c *Collection, rs ReadSpec, order string) (text string, args []any, gen uint64, ok bool) {
	db.Mu.RLock()
	cols, can := markable(c, rs.Sort)
	cnd, translated := c.translate(rs.Filter)
	keys := c.keysTable()
	db.Mu.RUnlock()
	if !can || !translated || !cnd.exact {
		return "", nil, 0, false
	}
	key := rs.FilterKey + "\x00" + fmt.Sprint(rs.Sort)
	m, gen, found := db.counts.lookupMark(c.name, key, rs.Skip)
	if !found {
		if gen%2 == 1 {
			return "", nil, 0, false
		}
		pm := &pageMarks{filter: rs.Filter, keys: rs.Sort, desc: rs.Sort[0].Dir < 0}
		walk := fmt.Sprintf("SELECT %s FROM %s k WHERE %s ORDER BY %s", strings.Join(cols, ", "), keys, cnd.text, order)
		rows, err := db.query(ctx, walk, cnd.args...)
		if err != nil {
			return "", nil, 0, false
		}
		for pos := int64(0); rows.Next(); pos++ {
			if pos == 0 || pos%MarkStride != 0 {
				continue
			}
			t := make([][]byte, len(cols))
			dest := make([]any, len(cols))
			for i := range t {
				dest[i] = &t[i]
			}
			if rows.Scan(dest...) != nil {
				break
			}
			pm.marks = append(pm.marks, mark{pos: pos, tuple: t})
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return "", nil, 0, false
		}
		db.counts.fillMarks(c.name, key, gen, pm)
		if m, gen, found = db.counts.lookupMark(c.name, key, rs.Skip); !found {
			return "", nil, 0, false
		}
	}
	cmp := ">="
	if rs.Sort[0].Dir < 0 {
		cmp = "<="
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	text = fmt.Sprintf("SELECT rid FROM %s k WHERE %s AND (%s) %s (%s) ORDER BY %s LIMIT ? OFFSET ?",
		keys, cnd.text, strings.Join(cols, ", "), cmp, marks, order)
	args = append([]any(nil), cnd.args...)
	for _, k := range m.tuple {
		args = append(args, k)
	}
	lim := rs.Limit
	if lim <= 0 {
		lim = -1
	}
	return text, append(args, lim, rs.Skip-m.pos), gen, true
}

// lookupMark gives the last kept mark at or before skip (found), or the
// generation to keep new marks at.
func (cs *counts) lookupMark(coll, key string, skip int64) (m mark, gen uint64, found bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	gen = cs.gen[coll]
	pm := cs.marks[coll][key]
	if pm == nil || gen%2 == 1 {
		return mark{}, gen, false
	}
	i := sort.Search(len(pm.marks), func(i int) bool { return pm.marks[i].pos > skip })
	if i == 0 {
		return mark{}, gen, false
	}
	return pm.marks[i-1], gen, true
}

// fillMarks keeps marks taken at generation gen, as fill does counts. An
// empty list is kept too: it says the list is shorter than one stride.
func (cs *counts) fillMarks(coll, key string, gen uint64, pm *pageMarks) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if gen%2 == 1 || cs.gen[coll] != gen {
		return
	}
	put(&cs.marks, &cs.nmarks, marksMax, coll, key, pm)
}

// sameGen reports whether no write to coll began or ended since gen.
func (cs *counts) sameGen(coll string, gen uint64) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.gen[coll] == gen
}

// KeptMarks is how many page marks the database keeps now: for tests and
// diagnostics.
func (db *Database) KeptMarks() int {
	db.counts.mu.Lock()
	defer db.counts.mu.Unlock()
	return db.counts.nmarks
}
