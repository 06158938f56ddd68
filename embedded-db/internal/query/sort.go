// Sorts and projections in Go: a sort specification (the server's
// translate.go writes it as SQL where key columns serve it) and a find's
// projection.
package query

import (
	"bytes"
	"sort"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// SortKey is one field of a sort specification.
type SortKey struct {
	Path  string
	Parts []string
	Dir   int
	Meta  bool // {$meta: "textScore"}: by the $text score, highest first
}

// isTextScore: {$meta: "textScore"}.
func isTextScore(v bsoncore.Value) (bool, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return false, nil
	}
	m, err := d.LookupErr("$meta")
	if err != nil {
		return false, nil
	}
	if s, _ := m.StringValueOK(); s != "textScore" {
		return false, NotSupported("$meta other than \"textScore\"")
	}
	return true, nil
}

// HasMeta: keys sort by the $text score.
func HasMeta(keys []SortKey) bool {
	for _, k := range keys {
		if k.Meta {
			return true
		}
	}
	return false
}

func ParseSort(spec bsoncore.Document) ([]SortKey, bool, error) {
	if len(spec) == 0 {
		return nil, false, nil
	}
	elems, err := spec.Elements()
	if err != nil {
		return nil, false, BadValue("sort must be a document")
	}
	var out []SortKey
	natural := false
	for _, e := range elems {
		if meta, err := isTextScore(e.Value()); err != nil || meta {
			if err != nil {
				return nil, false, err
			}
			out = append(out, SortKey{Path: e.Key(), Parts: SplitPath(e.Key()), Dir: -1, Meta: true})
			continue
		}
		dir, ok := Integer(e.Value())
		if !ok || (dir != 1 && dir != -1) {
			return nil, false, BadValue("bad sort specification: %s must be 1 or -1", e.Key())
		}
		if e.Key() == "$natural" {
			natural = true
			out = append(out, SortKey{Path: "$natural", Dir: int(dir)})
			continue
		}
		out = append(out, SortKey{Path: e.Key(), Parts: SplitPath(e.Key()), Dir: int(dir)})
	}
	return out, natural, nil
}

// SortDocs sorts documents in Go, by the same keys SQLite would compare.
func SortDocs(docs []bsoncore.Document, keys []SortKey) { SortScored(docs, keys, nil) }

// SortScored is SortDocs where a $meta key sorts by score(doc).
func SortScored(docs []bsoncore.Document, keys []SortKey, score func(bsoncore.Document) float64) {
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
			if k.Meta {
				sc := 0.0
				if score != nil {
					sc = score(d)
				}
				items[i].keys = append(items[i].keys, KeyOf(VDouble(sc)))
				continue
			}
			items[i].keys = append(items[i].keys, sortValueKey(d, k))
		}
	}
	sort.SliceStable(items, func(a, b int) bool {
		for i, k := range keys {
			c := bytes.Compare(items[a].keys[i], items[b].keys[i])
			if c != 0 {
				return (c < 0) == (k.Dir > 0)
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
func sortValueKey(doc bsoncore.Document, k SortKey) []byte {
	vals := Lookup(doc, k.Parts)
	var best []byte
	for _, v := range vals {
		cands := []bsoncore.Value{v}
		if v.Type == bsoncore.TypeArray {
			cands, _ = bsoncore.Array(v.Data).Values()
		}
		for _, c := range cands {
			key := KeyOf(c)
			if best == nil || (k.Dir > 0 && bytes.Compare(key, best) < 0) || (k.Dir < 0 && bytes.Compare(key, best) > 0) {
				best = key
			}
		}
	}
	if best == nil {
		return MissingKey
	}
	return best
}

// project applies a find Projection: inclusion ({a: 1}) or exclusion
// ({a: 0}) of paths, _id included unless excluded.
type Projection struct {
	Include bool
	Paths   [][]string
	IDOut   bool
	Meta    []string // fields that get the $text score ({$meta: "textScore"})
}

func ParseProjection(spec bsoncore.Document) (*Projection, error) {
	if len(spec) == 0 {
		return nil, nil
	}
	elems, err := spec.Elements()
	if err != nil {
		return nil, BadValue("projection must be a document")
	}
	p := &Projection{}
	mode := 0 // 1 include, -1 exclude
	idOnly := false
	for _, e := range elems {
		v := e.Value()
		if meta, err := isTextScore(v); err != nil || meta {
			if err != nil {
				return nil, err
			}
			p.Meta = append(p.Meta, e.Key())
			continue
		}
		if v.Type == bsoncore.TypeEmbeddedDocument || v.Type == bsoncore.TypeString {
			return nil, NotSupported("projection operators and expressions")
		}
		on := Truthy(v)
		if e.Key() == "_id" {
			p.IDOut = !on
			idOnly = on
			continue
		}
		m := -1
		if on {
			m = 1
		}
		if mode != 0 && m != mode {
			return nil, Errorf(31254, "Location31254", "cannot mix inclusion and exclusion in a projection")
		}
		mode = m
		p.Paths = append(p.Paths, SplitPath(e.Key()))
	}
	// A projection of $meta fields alone keeps every field (MongoDB 4.4+).
	p.Include = mode > 0 || (mode == 0 && (len(p.Meta) == 0 || idOnly))
	if mode == 0 && !p.IDOut && !idOnly && len(p.Meta) == 0 {
		return nil, nil
	}
	return p, nil
}

// OnlyID: the projection keeps _id and nothing else, which the id column
// answers without reading documents.
func (p *Projection) OnlyID() bool {
	return p != nil && p.Include && len(p.Paths) == 0 && !p.IDOut && len(p.Meta) == 0
}

// ApplyScored is Apply, then the score under each $meta field.
func (p *Projection) ApplyScored(doc bsoncore.Document, score float64) bsoncore.Document {
	out := p.Apply(doc)
	if p == nil || len(p.Meta) == 0 {
		return out
	}
	b := append([]byte(nil), out[:len(out)-1]...)
	for _, name := range p.Meta {
		b = bsoncore.AppendDoubleElement(b, name, score)
	}
	b = append(b, 0)
	bsoncore.UpdateLength(b, 0, int32(len(b)))
	return b
}

func (p *Projection) Apply(doc bsoncore.Document) bsoncore.Document {
	if p == nil {
		return doc
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	elems, _ := doc.Elements()
	for _, e := range elems {
		key := e.Key()
		if key == "_id" {
			if !p.IDOut {
				out = bsoncore.AppendValueElement(out, key, e.Value())
			}
			continue
		}
		var sub [][]string
		hit := false
		for _, path := range p.Paths {
			if path[0] == key {
				hit = true
				if len(path) > 1 {
					sub = append(sub, path[1:])
				}
			}
		}
		switch {
		case p.Include && hit && sub == nil:
			out = bsoncore.AppendValueElement(out, key, e.Value())
		case p.Include && hit:
			if d, ok := e.Value().DocumentOK(); ok {
				inner := (&Projection{Include: true, Paths: sub, IDOut: true}).Apply(d)
				out = bsoncore.AppendDocumentElement(out, key, inner)
			}
		case !p.Include && !hit:
			out = bsoncore.AppendValueElement(out, key, e.Value())
		case !p.Include && sub != nil:
			if d, ok := e.Value().DocumentOK(); ok {
				inner := (&Projection{Include: false, Paths: sub}).Apply(d)
				out = bsoncore.AppendDocumentElement(out, key, inner)
			} else {
				out = bsoncore.AppendValueElement(out, key, e.Value())
			}
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}
