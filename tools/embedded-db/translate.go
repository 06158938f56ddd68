// Filters into SQL: each condition on a path that has a key column (an
// indexed, non-array field, or _id) becomes a SQL condition over that
// column; what cannot be translated is left to the Go matcher (match.go).
package main

import (
	"regexp/syntax"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// cond is a SQL condition and its arguments; exact when it selects
// precisely the documents the MongoDB condition does.
type cond struct {
	text  string
	args  []any
	exact bool
	eq    bool   // a single "col = ?": an equality an index can lead with
	col   string // eq's column
	parts []cond // a conjunction's terms, flattened
}

// translate turns a filter node into SQL over c's key columns. ok is false
// when nothing of it translates (then it narrows nothing).
func (c *collection) translate(n node) (cond, bool) {
	switch n := n.(type) {
	case trueNode:
		return cond{text: "1", exact: true}, true
	case andNode:
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
	case orNode, norNode:
		var children []node
		if o, isOr := n.(orNode); isOr {
			children = o
		} else {
			children = n.(norNode)
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
		if _, isNor := n.(norNode); isNor {
			if !exact {
				return cond{}, false
			}
			text = "NOT " + text
		}
		return cond{text: text, args: args, exact: exact}, true
	case *fieldNode:
		return c.translateField(n)
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

func (c *collection) translateField(f *fieldNode) (cond, bool) {
	col, ok := c.column(f.pathStr)
	if !ok {
		return cond{}, false
	}
	switch f.op {
	case "$eq", "$ne":
		if !scalar(f.arg) {
			return cond{}, false
		}
		var sc cond
		if f.arg.Type == bsoncore.TypeNull {
			sc = cond{text: col + " IN (?, ?)", args: []any{missingKey, nullKey}, exact: true}
		} else {
			sc = cond{text: col + " = ?", args: []any{keyOf(f.arg)}, exact: true, eq: f.op == "$eq", col: col}
		}
		if f.op == "$ne" {
			sc.text = "NOT (" + sc.text + ")"
		}
		return sc, true
	case "$gt", "$gte", "$lt", "$lte":
		if !scalar(f.arg) || f.arg.Type == bsoncore.TypeNull {
			return cond{}, false
		}
		lo, hi := classBounds(f.arg)
		k := keyOf(f.arg)
		switch f.op {
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
		for _, v := range f.list {
			switch {
			case v.Type == bsoncore.TypeNull:
				args = append(args, missingKey, nullKey)
			case scalar(v):
				args = append(args, keyOf(v))
			default:
				return cond{}, false
			}
		}
		if len(args) == 0 {
			if f.op == "$in" {
				return cond{text: "0", exact: true}, true
			}
			return cond{text: "1", exact: true}, true
		}
		text := col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
		if f.op == "$nin" {
			text = "NOT (" + text + ")"
		}
		return cond{text: text, args: args, exact: true}, true
	case "$exists":
		if truthy(f.arg) {
			return cond{text: col + " != ?", args: []any{missingKey}, exact: true}, true
		}
		return cond{text: col + " = ?", args: []any{missingKey}, exact: true, eq: true, col: col}, true
	case "$regex":
		pat, opts := f.arg.Regex()
		lit, anchored, ok := literalRegex(pat, opts)
		if !ok {
			return cond{}, false
		}
		prefix := append([]byte{clsString}, lit...)
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
		for _, in := range f.inner {
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
