// Counts kept with the writes: the answer to "how many documents match this
// filter" (and "how many per value of this indexed field": a $group of
// {$sum: 1}s) is remembered after it is first counted, and every committed
// write then moves it by what the Go matcher says about the document before
// and after. A list page's total (Roost asks for one with every page) and
// /api/v1/cities then cost a map lookup instead of a walk over every
// matching index key, which at 100,000 documents was most of their time.
//
// Correctness rests on two rules:
//   - a delta is applied only after its transaction commits, in the same
//     critical section that marks the write finished;
//   - a count is remembered only if no write to its collection started or
//     finished while it was being taken (a generation per collection, odd
//     while a commit is under way), so the remembered number and the deltas
//     that follow it never overlap or leave a gap.
//
// The matcher is the definition of a filter here, as it is for reads that
// SQL cannot answer exactly; server_test.go checks the two agree.
package storage

import (
	"roost.local/embedded-db/internal/query"
	"sync"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// EmptyDoc is the filter {} as BSON: the key of an unfiltered count.
var EmptyDoc = []byte{5, 0, 0, 0, 0}

// countsMax bounds the remembered counts per database: each costs two
// matcher runs on every write to its collection.
const countsMax = 256

type countEntry struct {
	filter query.Node
	n      int64
	res    *ReadResult // how it was counted first: for explain and the profiler

	// A group count: per key (internal/query/keys.go) of the value at path, how many.
	groups map[string]int64
	parts  []string
}

type counts struct {
	mu      sync.Mutex
	gen     map[string]uint64                 // by collection; odd while a commit is under way
	entries map[string]map[string]*countEntry // by collection, then by the filter's BSON
	size    int

	marks  map[string]map[string]*pageMarks // page marks (marks.go), by collection, then filter and sort
	nmarks int
}

// docChange is one document written by a transaction; nil is "none".
// dropped: the whole collection went away.
type docChange struct {
	coll     string
	old, new bsoncore.Document
	dropped  bool
}

// lookup gives a remembered count and how it was first taken (found), or
// the generation to fill it at.
func (cs *counts) lookup(coll, key string) (n int64, res *ReadResult, found bool, gen uint64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if m := cs.entries[coll]; m != nil {
		if e := m[key]; e != nil {
			return e.n, e.res, true, 0
		}
	}
	return 0, nil, false, cs.gen[coll]
}

// fill remembers a count taken at generation gen, unless a write to the
// collection began or ended since (then the next count tries again).
func (cs *counts) fill(coll, key string, gen uint64, e *countEntry) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if gen%2 == 1 || cs.gen[coll] != gen {
		return
	}
	put(&cs.entries, &cs.size, countsMax, coll, key, e)
}

// put stores v under coll and key in a two-level map of at most max
// entries (size counts them), forgetting an arbitrary one when it is full.
func put[T any](m *map[string]map[string]T, size *int, max int, coll, key string, v T) {
	if *m == nil {
		*m = map[string]map[string]T{}
	}
	if *size >= max && evictOne(*m) {
		*size--
	}
	inner := (*m)[coll]
	if inner == nil {
		inner = map[string]T{}
		(*m)[coll] = inner
	}
	if _, had := inner[key]; !had {
		*size++
	}
	inner[key] = v
}

// evictOne forgets an arbitrary entry of a map by collection, then key
// (Go's map order is random enough); false when there is none.
func evictOne[T any](m map[string]map[string]T) bool {
	for coll, inner := range m {
		for key := range inner {
			delete(inner, key)
			if len(inner) == 0 {
				delete(m, coll)
			}
			return true
		}
		delete(m, coll)
	}
	return false
}

// begin marks the collections a transaction wrote as being committed.
func (cs *counts) begin(changes []docChange) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.gen == nil {
		cs.gen = map[string]uint64{}
	}
	for _, coll := range touched(changes) {
		cs.gen[coll]++
	}
}

// end applies a transaction's changes if it committed, or forgets the
// counts of what it touched if the commit's outcome is unknown.
func (cs *counts) end(changes []docChange, committed bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, ch := range changes {
		follow(cs.entries, &cs.size, ch, committed)
		follow(cs.marks, &cs.nmarks, ch, committed)
	}
	for _, coll := range touched(changes) {
		cs.gen[coll]++
	}
}

// kept is what is kept with the writes: a count (countEntry) or the page
// marks of a list (pageMarks). Each says whether a document is of it, and
// moves by a document that entered (by 1) or left (-1); false when it can
// no longer be kept true (then it is forgotten, and taken again when asked).
type kept interface {
	matches(doc bsoncore.Document) bool
	move(doc bsoncore.Document, by int64) bool
}

// follow applies one write to what is kept of its collection: a drop, or a
// transaction whose commit failed, forgets all of it; a committed change
// moves each by what it says about the document before and after.
func follow[T kept](all map[string]map[string]T, size *int, ch docChange, committed bool) {
	m := all[ch.coll]
	if m == nil {
		return
	}
	if ch.dropped || !committed {
		*size -= len(m)
		delete(all, ch.coll)
		return
	}
	for key, e := range m {
		ok := true
		if ch.old != nil && e.matches(ch.old) {
			ok = e.move(ch.old, -1)
		}
		if ok && ch.new != nil && e.matches(ch.new) {
			ok = e.move(ch.new, 1)
		}
		if !ok {
			delete(m, key)
			*size--
		}
	}
}

func (e *countEntry) matches(doc bsoncore.Document) bool { return e.filter.Match(doc) }

// move counts a document in or out, and regroups it for a group count.
func (e *countEntry) move(doc bsoncore.Document, by int64) bool {
	e.n += by
	return e.regroup(doc, by)
}

// regroup moves a group count by one document; false when the document's
// value cannot be grouped from its key.
func (e *countEntry) regroup(doc bsoncore.Document, by int64) bool {
	if e.groups == nil {
		return true
	}
	key, multi := fieldKey(doc, e.parts)
	if multi {
		return false
	}
	k, ok := groupKey(key)
	if !ok {
		return false
	}
	if e.groups[k] += by; e.groups[k] == 0 {
		delete(e.groups, k)
	}
	return true
}

// groupKey is the group a stored key falls in: MongoDB groups a missing
// field and null together, under null.
func groupKey(key []byte) (string, bool) {
	v, ok := query.DecodeKey(key)
	if !ok {
		return "", false
	}
	if query.Missing(v) {
		return string(query.KeyOf(query.VNull())), true
	}
	return string(key), true
}

// lookupGroups gives a copy of remembered group counts (found), or the
// generation to fill them at.
func (cs *counts) lookupGroups(coll, key string) (groups map[string]int64, res *ReadResult, found bool, gen uint64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if e := cs.entries[coll][key]; e != nil && e.groups != nil {
		groups = make(map[string]int64, len(e.groups))
		for k, n := range e.groups {
			groups[k] = n
		}
		return groups, e.res, true, 0
	}
	return nil, nil, false, cs.gen[coll]
}

func touched(changes []docChange) []string {
	var out []string
	seen := map[string]bool{}
	for _, ch := range changes {
		if !seen[ch.coll] {
			seen[ch.coll] = true
			out = append(out, ch.coll)
		}
	}
	return out
}

// skipLimit is what a count with skip and limit (0: none) gives, from the
// count without them.
func skipLimit(n, skip, limit int64) int64 {
	n -= skip
	if n < 0 {
		n = 0
	}
	if limit > 0 && n > limit {
		n = limit
	}
	return n
}
