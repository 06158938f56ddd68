// Sorts and projections: a sort specification as SQL over the key
// columns or, where none applies, in Go; and a find's projection.
package main

import (
	"bytes"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// sortKey is one field of a sort specification.
type sortKey struct {
	path  string
	parts []string
	dir   int
}

func parseSort(spec bsoncore.Document) ([]sortKey, bool, error) {
	if len(spec) == 0 {
		return nil, false, nil
	}
	elems, err := spec.Elements()
	if err != nil {
		return nil, false, badValue("sort must be a document")
	}
	var out []sortKey
	natural := false
	for _, e := range elems {
		dir, ok := integer(e.Value())
		if !ok || (dir != 1 && dir != -1) {
			if d, isDoc := e.Value().DocumentOK(); isDoc {
				if _, meta := d.LookupErr("$meta"); meta == nil {
					return nil, false, notSupported("$meta sort")
				}
			}
			return nil, false, badValue("bad sort specification: %s must be 1 or -1", e.Key())
		}
		if e.Key() == "$natural" {
			natural = true
			out = append(out, sortKey{path: "$natural", dir: int(dir)})
			continue
		}
		out = append(out, sortKey{path: e.Key(), parts: splitPath(e.Key()), dir: int(dir)})
	}
	return out, natural, nil
}

// sortSQL is the ORDER BY of a sort when every key has a column; ok false
// otherwise (the sort is then done in Go).
func (c *collection) sortSQL(keys []sortKey) (string, bool) {
	if len(keys) == 0 {
		return "rid", true
	}
	var parts []string
	for _, k := range keys {
		col := "rid"
		if k.path != "$natural" {
			var ok bool
			if col, ok = c.column(k.path); !ok {
				return "", false
			}
		}
		if k.dir < 0 {
			col += " DESC"
		}
		parts = append(parts, col)
	}
	return strings.Join(parts, ", "), true
}

// sortDocs sorts documents in Go, by the same keys SQLite would compare.
func sortDocs(docs []bsoncore.Document, keys []sortKey) {
	if len(keys) == 0 {
		return
	}
	type keyed struct {
		doc  bsoncore.Document
		keys [][]byte
	}
	items := make([]keyed, len(docs))
	for i, d := range docs {
		items[i].doc = d
		for _, k := range keys {
			items[i].keys = append(items[i].keys, sortValueKey(d, k))
		}
	}
	sort.SliceStable(items, func(a, b int) bool {
		for i, k := range keys {
			c := bytes.Compare(items[a].keys[i], items[b].keys[i])
			if c != 0 {
				return (c < 0) == (k.dir > 0)
			}
		}
		return false
	})
	for i := range items {
		docs[i] = items[i].doc
	}
}

// sortValueKey: MongoDB sorts an array by its smallest element ascending
// and its largest descending.
func sortValueKey(doc bsoncore.Document, k sortKey) []byte {
	vals := lookup(doc, k.parts)
	var best []byte
	for _, v := range vals {
		cands := []bsoncore.Value{v}
		if v.Type == bsoncore.TypeArray {
			cands, _ = bsoncore.Array(v.Data).Values()
		}
		for _, c := range cands {
			key := keyOf(c)
			if best == nil || (k.dir > 0 && bytes.Compare(key, best) < 0) || (k.dir < 0 && bytes.Compare(key, best) > 0) {
				best = key
			}
		}
	}
	if best == nil {
		return missingKey
	}
	return best
}

// project applies a find projection: inclusion ({a: 1}) or exclusion
// ({a: 0}) of paths, _id included unless excluded.
type projection struct {
	include bool
	paths   [][]string
	idOut   bool
}

func parseProjection(spec bsoncore.Document) (*projection, error) {
	if len(spec) == 0 {
		return nil, nil
	}
	elems, err := spec.Elements()
	if err != nil {
		return nil, badValue("projection must be a document")
	}
	p := &projection{}
	mode := 0 // 1 include, -1 exclude
	idOnly := false
	for _, e := range elems {
		v := e.Value()
		if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeString {
			return nil, notSupported("projection operators and expressions")
		}
		on := truthy(v)
		if e.Key() == "_id" {
			p.idOut = !on
			idOnly = on
			continue
		}
		m := -1
		if on {
			m = 1
		}
		if mode != 0 && m != mode {
			return nil, errorf(31254, "Location31254", "cannot mix inclusion and exclusion in a projection")
		}
		mode = m
		p.paths = append(p.paths, splitPath(e.Key()))
	}
	p.include = mode >= 0
	if mode == 0 && !p.idOut && !idOnly {
		return nil, nil
	}
	return p, nil
}

// onlyID: the projection keeps _id and nothing else, which the id column
// answers without reading documents.
func (p *projection) onlyID() bool {
	return p != nil && p.include && len(p.paths) == 0 && !p.idOut
}

func (p *projection) apply(doc bsoncore.Document) bsoncore.Document {
	if p == nil {
		return doc
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	elems, _ := doc.Elements()
	for _, e := range elems {
		key := e.Key()
		if key == "_id" {
			if !p.idOut {
				out = bsoncore.AppendValueElement(out, key, e.Value())
			}
			continue
		}
		var sub [][]string
		hit := false
		for _, path := range p.paths {
			if path[0] == key {
				hit = true
				if len(path) > 1 {
					sub = append(sub, path[1:])
				}
			}
		}
		switch {
		case p.include && hit && sub == nil:
			out = bsoncore.AppendValueElement(out, key, e.Value())
		case p.include && hit:
			if d, ok := e.Value().DocumentOK(); ok {
				inner := (&projection{include: true, paths: sub, idOut: true}).apply(d)
				out = bsoncore.AppendDocumentElement(out, key, inner)
			}
		case !p.include && !hit:
			out = bsoncore.AppendValueElement(out, key, e.Value())
		case !p.include && sub != nil:
			if d, ok := e.Value().DocumentOK(); ok {
				inner := (&projection{include: false, paths: sub}).apply(d)
				out = bsoncore.AppendDocumentElement(out, key, inner)
			} else {
				out = bsoncore.AppendValueElement(out, key, e.Value())
			}
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}
