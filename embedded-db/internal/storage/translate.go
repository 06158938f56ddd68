// Filters and sorts into SQL: each condition on a path that has a key
// column (an indexed, non-array field, or _id) becomes a SQL condition over
// that column, and a sort on such paths an ORDER BY; what cannot be
// translated is left to the Go matcher (internal/query/match.go).
package storage

import (
	"fmt"
	"regexp/syntax"
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// cond is a SQL condition and its arguments; exact when it selects
// precisely the documents the MongoDB condition does.
type cond struct {
	text  string
	args  []any
	exact bool
	eq    bool    // a single "col = ?": an equality an index can lead with
	col   string  // eq's column
	parts []cond  // a conjunction's terms, flattened
	sub   *subset // set when the condition is "the rows a text or 2dsphere index finds"
}

// subset is a condition k.rid IN (SELECT <rowid> FROM <from> WHERE <where>)
// on an index's table, kept in parts, so that a read can join the table
// instead (readText, readNear) and conjunctions can merge FTS5 queries.
type subset struct {
	table string // the index's table (its SQL name)
	from  string // the table, or a subquery of it
	rowid string // from's column of the row's rid
	where string
	args  []any  // from's, then where's
	fts   string // the FTS5 query, for a text index
}

func subsetCond(s subset) cond {
	return cond{text: fmt.Sprintf("k.rid IN (SELECT %s FROM %s WHERE %s)", s.rowid, s.from, s.where),
		args: s.args, exact: true, sub: &s}
}

// splitSubset takes out of c the first subset on table (readText and
// readNear join that table and ask it themselves): that subset, or nil,
// and the rest of c.
func splitSubset(c cond, table string) (*subset, cond) {
	if c.sub != nil && c.sub.table == table {
		return c.sub, cond{text: "1", exact: c.exact}
	}
	for i, p := range c.parts {
		if p.sub != nil && p.sub.table == table {
			rest := append(append([]cond(nil), c.parts[:i]...), c.parts[i+1:]...)
			if len(rest) == 0 {
				return p.sub, cond{text: "1", exact: c.exact}
			}
			return p.sub, conjunction(rest, c.exact)
		}
	}
	return nil, c
}

// translate turns a filter node into SQL over c's key columns. ok is false
// when nothing of it translates (then it narrows nothing).
func (c *Collection) translate(n query.Node) (cond, bool) {
	switch n := n.(type) {
	case query.TrueNode:
		return cond{text: "1", exact: true}, true
	case query.AndNode:
		var terms []cond
		exact := true
		for _, child := range n {
			sc, ok := c.translate(child)
			if !ok {
				exact = false
				continue
			}
			if sc.parts != nil {
				terms = append(terms, sc.parts...)
			} else {
				terms = append(terms, sc)
			}
			exact = exact && sc.exact
		}
		if len(terms) == 0 {
			return cond{}, false
		}
		return conjunction(terms, exact), true
	case query.OrNode, query.NorNode:
		var children []query.Node
		if o, isOr := n.(query.OrNode); isOr {
			children = o
		} else {
			children = n.(query.NorNode)
		}
		var parts []string
		var args []any
		exact := true
		for _, child := range children {
			sc, ok := c.translate(child)
			if !ok {
				return cond{}, false // one disjunct that narrows nothing: the OR narrows nothing
			}
			parts = append(parts, sc.text)
			args = append(args, sc.args...)
			exact = exact && sc.exact
		}
		text := "(" + strings.Join(parts, " OR ") + ")"
		if _, isNor := n.(query.NorNode); isNor {
			if !exact {
				return cond{}, false
			}
			text = "NOT " + text
		}
		return cond{text: text, args: args, exact: exact}, true
	case *query.FieldNode:
		return c.translateField(n)
	case *query.TextNode:
		return c.translateText(n)
	}
	return cond{}, false
}

// scalar: a value whose key equality and order are MongoDB's for a plain
// (non-array) field.
func scalar(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray, bsoncore.TypeRegex, bsoncore.TypeMinKey,
		bsoncore.TypeMaxKey, bsoncore.TypeUndefined, 0:
		return false
	}
	return true
}

func (c *Collection) translateField(f *query.FieldNode) (cond, bool) {
	if f.Op == "$geoWithin" || f.Op == "$geoIntersects" {
		return c.translateGeo(f)
	}
	if f.Op == "$all" {
		if sc, ok := c.translateAllWords(f); ok {
			return sc, true
		}
	}
	col, ok := c.column(f.PathStr)
	if !ok {
		return cond{}, false
	}
	switch f.Op {
	case "$eq", "$ne":
		if !scalar(f.Arg) {
			return cond{}, false
		}
		var sc cond
		if f.Arg.Type == bsoncore.TypeNull {
			sc = cond{text: col + " IN (?, ?)", args: []any{query.MissingKey, query.NullKey}, exact: true}
		} else {
			sc = cond{text: col + " = ?", args: []any{query.KeyOf(f.Arg)}, exact: true, eq: f.Op == "$eq", col: col}
		}
		if f.Op == "$ne" {
			sc.text = "NOT (" + sc.text + ")"
		}
		return sc, true
	case "$gt", "$gte", "$lt", "$lte":
		if !scalar(f.Arg) || f.Arg.Type == bsoncore.TypeNull {
			return cond{}, false
		}
		lo, hi := query.ClassBounds(f.Arg)
		k := query.KeyOf(f.Arg)
		switch f.Op {
		case "$gt":
			return cond{text: "(" + col + " > ? AND " + col + " < ?)", args: []any{k, hi}, exact: true}, true
		case "$gte":
			return cond{text: "(" + col + " >= ? AND " + col + " < ?)", args: []any{k, hi}, exact: true}, true
		case "$lt":
			return cond{text: "(" + col + " < ? AND " + col + " >= ?)", args: []any{k, lo}, exact: true}, true
		default:
			return cond{text: "(" + col + " <= ? AND " + col + " >= ?)", args: []any{k, lo}, exact: true}, true
		}
	case "$in", "$nin":
		var args []any
		for _, v := range f.List {
			switch {
			case v.Type == bsoncore.TypeNull:
				args = append(args, query.MissingKey, query.NullKey)
			case scalar(v):
				args = append(args, query.KeyOf(v))
			default:
				return cond{}, false
			}
		}
		if len(args) == 0 {
			if f.Op == "$in" {
				return cond{text: "0", exact: true}, true
			}
			return cond{text: "1", exact: true}, true
		}
		text := col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
		if f.Op == "$nin" {
			text = "NOT (" + text + ")"
		}
		return cond{text: text, args: args, exact: true}, true
	case "$exists":
		if query.Truthy(f.Arg) {
			return cond{text: col + " != ?", args: []any{query.MissingKey}, exact: true}, true
		}
		return cond{text: col + " = ?", args: []any{query.MissingKey}, exact: true, eq: true, col: col}, true
	case "$regex":
		pat, opts := f.Arg.Regex()
		lit, anchored, ok := literalRegex(pat, opts)
		if !ok {
			return cond{}, false
		}
		prefix := append([]byte{query.ClsString}, lit...)
		if anchored {
			hi := append(append([]byte(nil), prefix...), 0xff, 0xff)
			return cond{text: "(" + col + " >= ? AND " + col + " < ?)", args: []any{prefix, hi}, exact: true}, true
		}
		// A substring of the key's string part: instr over the BLOB, at C speed.
		return cond{text: "(substr(" + col + ", 1, 1) = x'14' AND instr(" + col + ", ?) > 1)",
			args: []any{lit}, exact: true}, true
	case "$not":
		var parts []string
		var args []any
		for _, in := range f.Inner {
			sc, ok := c.translateField(in)
			if !ok || !sc.exact {
				return cond{}, false
			}
			parts = append(parts, sc.text)
			args = append(args, sc.args...)
		}
		return cond{text: "NOT (" + strings.Join(parts, " AND ") + ")", args: args, exact: true}, true
	}
	return cond{}, false
}

// conjunction joins terms with AND, keeping them for planRead's trial.
func conjunction(terms []cond, exact bool) cond {
	terms = mergeFTS(terms)
	texts := make([]string, len(terms))
	var args []any
	for i, t := range terms {
		texts[i] = t.text
		args = append(args, t.args...)
	}
	return cond{text: "(" + strings.Join(texts, " AND ") + ")", args: args, exact: exact, parts: terms}
}

// literalRegex reports a pattern that only matches a fixed string (with
// every metacharacter escaped), optionally anchored with ^: what a search
// for a user's literal text sends. Strings with control bytes are left to Go.
func literalRegex(pattern, options string) (lit []byte, anchored bool, ok bool) {
	if options != "" {
		return nil, false, false
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, false, false
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		anchored = true
		subs = subs[1:]
	}
	for _, s := range subs {
		if s.Op != syntax.OpLiteral || s.Flags&syntax.FoldCase != 0 {
			return nil, false, false
		}
		lit = append(lit, string(s.Rune)...)
	}
	if len(lit) == 0 {
		return nil, false, false
	}
	for _, b := range lit {
		if b < 0x20 {
			return nil, false, false
		}
	}
	return lit, anchored, true
}

// sortSQL is the ORDER BY of a sort when every key has a column; ok false
// otherwise (the sort is then done in Go).
func (c *Collection) sortSQL(keys []query.SortKey) (string, bool) {
	if len(keys) == 0 {
		return "rid", true
	}
	var parts []string
	for _, k := range keys {
		col := "rid"
		if k.Meta {
			return "", false // the $text score: sorted in Go
		}
		if k.Path != "$natural" {
			var ok bool
			if col, ok = c.column(k.Path); !ok {
				return "", false
			}
		}
		if k.Dir < 0 {
			col += " DESC"
		}
		parts = append(parts, col)
	}
	return strings.Join(parts, ", "), true
}
