// Query filters: parsed once into a tree that matches documents in Go with
// MongoDB's semantics, and that plan.go translates into SQL over index
// columns where it can. Supported: implicit and explicit $eq, $ne, $gt,
// $gte, $lt, $lte, $in, $nin, $exists, $regex (with $options i, m, s),
// $not, $size, $all, $elemMatch, $type, $mod, and $and, $or, $nor; $comment
// is ignored. $where, $expr, $text and the geo operators are refused.
package main

import (
	"math"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type node interface {
	match(doc bsoncore.Document) bool
}

type trueNode struct{}

func (trueNode) match(bsoncore.Document) bool { return true }

type andNode []node

func (n andNode) match(doc bsoncore.Document) bool {
	for _, c := range n {
		if !c.match(doc) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) match(doc bsoncore.Document) bool {
	for _, c := range n {
		if c.match(doc) {
			return true
		}
	}
	return false
}

type norNode []node

func (n norNode) match(doc bsoncore.Document) bool { return !orNode(n).match(doc) }

// fieldNode is one operator applied to the values a path reaches.
type fieldNode struct {
	path    []string
	pathStr string
	op      string
	arg     bsoncore.Value
	list    []bsoncore.Value // $in, $nin, $all
	res     []*regexp.Regexp // $regex, and the regexes inside $in / $nin
	inner   []*fieldNode     // $not, and $elemMatch on element values
	sub     node             // $elemMatch on element documents
	types   []bsoncore.Type  // $type
	numeric bool             // $type "number"
	mod     [2]int64         // $mod
}

func (f *fieldNode) match(doc bsoncore.Document) bool {
	return f.matchValues(lookup(doc, f.path))
}

func (f *fieldNode) matchValues(vals []bsoncore.Value) bool {
	switch f.op {
	case "$eq":
		return anyEqual(vals, f.arg)
	case "$ne":
		return !anyEqual(vals, f.arg)
	case "$gt", "$gte", "$lt", "$lte":
		return anyValue(vals, true, func(v bsoncore.Value) bool { return compareOp(f.op, v, f.arg) })
	case "$in":
		return f.matchIn(vals)
	case "$nin":
		return !f.matchIn(vals)
	case "$exists":
		found := false
		for _, v := range vals {
			found = found || !missing(v)
		}
		return found == truthy(f.arg)
	case "$regex":
		return anyValue(vals, true, func(v bsoncore.Value) bool { return regexMatch(f.res[0], v) })
	case "$size":
		n, _ := integer(f.arg)
		return anyValue(vals, false, func(v bsoncore.Value) bool {
			if v.Type != bsoncore.TypeArray {
				return false
			}
			elems, _ := bsoncore.Array(v.Data).Values()
			return int64(len(elems)) == n
		})
	case "$all":
		if len(f.list) == 0 {
			return false
		}
		for _, want := range f.list {
			if !anyEqual(vals, want) {
				return false
			}
		}
		return true
	case "$elemMatch":
		return anyValue(vals, false, func(v bsoncore.Value) bool {
			if v.Type != bsoncore.TypeArray {
				return false
			}
			elems, _ := bsoncore.Array(v.Data).Values()
			for _, e := range elems {
				if f.sub != nil {
					if e.Type == bsoncore.TypeEmbeddedDocument && f.sub.match(bsoncore.Document(e.Data)) {
						return true
					}
					continue
				}
				ok := true
				for _, in := range f.inner {
					ok = ok && in.matchValues([]bsoncore.Value{e})
				}
				if ok {
					return true
				}
			}
			return false
		})
	case "$not":
		for _, in := range f.inner {
			if !in.matchValues(vals) {
				return true
			}
		}
		return false
	case "$type":
		return anyValue(vals, true, func(v bsoncore.Value) bool {
			if missing(v) {
				return false
			}
			if f.numeric && class(v.Type) == clsNumber {
				return true
			}
			for _, t := range f.types {
				if v.Type == t {
					return true
				}
			}
			return false
		})
	case "$mod":
		return anyValue(vals, true, func(v bsoncore.Value) bool {
			x, ok := number(v)
			if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
			return int64(x)%f.mod[0] == f.mod[1]
		})
	}
	return false
}

func (f *fieldNode) matchIn(vals []bsoncore.Value) bool {
	for _, want := range f.list {
		if want.Type == bsoncore.TypeRegex {
			continue
		}
		if anyEqual(vals, want) {
			return true
		}
	}
	for _, re := range f.res {
		if anyValue(vals, true, func(v bsoncore.Value) bool { return regexMatch(re, v) }) {
			return true
		}
	}
	return false
}

// anyValue applies test to every reached value and, when intoArrays, to the
// elements of reached arrays too (MongoDB's implicit array traversal).
func anyValue(vals []bsoncore.Value, intoArrays bool, test func(bsoncore.Value) bool) bool {
	for _, v := range vals {
		if test(v) {
			return true
		}
		if intoArrays && v.Type == bsoncore.TypeArray {
			elems, _ := bsoncore.Array(v.Data).Values()
			for _, e := range elems {
				if test(e) {
					return true
				}
			}
		}
	}
	return false
}

// anyEqual: {path: want} — a reached value equal to want, an element of a
// reached array equal to it, or (want null) a missing one.
func anyEqual(vals []bsoncore.Value, want bsoncore.Value) bool {
	wantNull := want.Type == bsoncore.TypeNull
	return anyValue(vals, true, func(v bsoncore.Value) bool {
		if missing(v) {
			return wantNull
		}
		return compareValues(v, want) == 0
	})
}

// compareOp: $gt and friends compare only within one type class.
func compareOp(op string, v, arg bsoncore.Value) bool {
	if missing(v) || class(v.Type) != class(arg.Type) {
		return false
	}
	c := compareValues(v, arg)
	switch op {
	case "$gt":
		return c > 0
	case "$gte":
		return c >= 0
	case "$lt":
		return c < 0
	default:
		return c <= 0
	}
}

func regexMatch(re *regexp.Regexp, v bsoncore.Value) bool {
	if v.Type != bsoncore.TypeString && v.Type != bsoncore.TypeSymbol {
		return false
	}
	s, _ := v.StringValueOK()
	if v.Type == bsoncore.TypeSymbol {
		s = v.Symbol()
	}
	return re.MatchString(s)
}

// compileRegex turns a MongoDB (PCRE) pattern into Go's RE2.
func compileRegex(pattern, options string) (*regexp.Regexp, error) {
	flags := ""
	for _, o := range options {
		switch o {
		case 'i', 'm', 's':
			flags += string(o)
		case 'u':
		default:
			return nil, badValue("regular expression option '%c' is not supported", o)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, badValue("bad regular expression: %v", err)
	}
	return re, nil
}

// compileFilter parses a query filter.
func compileFilter(filter bsoncore.Document) (node, error) {
	if len(filter) == 0 {
		return trueNode{}, nil
	}
	elems, err := filter.Elements()
	if err != nil {
		return nil, badValue("filter is not a valid document")
	}
	var all andNode
	for _, e := range elems {
		key, val := e.Key(), e.Value()
		if strings.HasPrefix(key, "$") {
			switch key {
			case "$and", "$or", "$nor":
				arr, ok := val.ArrayOK()
				if !ok {
					return nil, badValue("%s must be an array", key)
				}
				vals, _ := arr.Values()
				if len(vals) == 0 {
					return nil, badValue("%s/$or/$nor entries need to be full objects", key)
				}
				var parts []node
				for _, v := range vals {
					d, ok := v.DocumentOK()
					if !ok {
						return nil, badValue("%s entries need to be full objects", key)
					}
					n, err := compileFilter(d)
					if err != nil {
						return nil, err
					}
					parts = append(parts, n)
				}
				switch key {
				case "$and":
					all = append(all, andNode(parts))
				case "$or":
					all = append(all, orNode(parts))
				default:
					all = append(all, norNode(parts))
				}
			case "$comment":
			default:
				return nil, notSupported("the query operator " + key)
			}
			continue
		}
		nodes, err := compileField(key, val)
		if err != nil {
			return nil, err
		}
		all = append(all, nodes...)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// isOperatorDoc: {$gt: 1} rather than a document to compare with.
func isOperatorDoc(v bsoncore.Value) bool {
	d, ok := v.DocumentOK()
	if !ok {
		return false
	}
	e, err := d.IndexErr(0)
	return err == nil && strings.HasPrefix(e.Key(), "$")
}

// compileField parses the condition on one path.
func compileField(path string, val bsoncore.Value) ([]node, error) {
	p := splitPath(path)
	if val.Type == bsoncore.TypeRegex {
		pat, opts := val.Regex()
		re, err := compileRegex(pat, opts)
		if err != nil {
			return nil, err
		}
		return []node{&fieldNode{path: p, pathStr: path, op: "$regex", arg: val, res: []*regexp.Regexp{re}}}, nil
	}
	if !isOperatorDoc(val) {
		return []node{&fieldNode{path: p, pathStr: path, op: "$eq", arg: val}}, nil
	}
	ops, err := compileOps(path, p, bsoncore.Document(val.Data))
	if err != nil {
		return nil, err
	}
	out := make([]node, len(ops))
	for i, o := range ops {
		out[i] = o
	}
	return out, nil
}

var typeNames = map[string]bsoncore.Type{
	"double": bsoncore.TypeDouble, "string": bsoncore.TypeString, "object": bsoncore.TypeEmbeddedDocument,
	"array": bsoncore.TypeArray, "binData": bsoncore.TypeBinary, "undefined": bsoncore.TypeUndefined,
	"objectId": bsoncore.TypeObjectID, "bool": bsoncore.TypeBoolean, "date": bsoncore.TypeDateTime,
	"null": bsoncore.TypeNull, "regex": bsoncore.TypeRegex, "javascript": bsoncore.TypeJavaScript,
	"symbol": bsoncore.TypeSymbol, "int": bsoncore.TypeInt32, "timestamp": bsoncore.TypeTimestamp,
	"long": bsoncore.TypeInt64, "decimal": bsoncore.TypeDecimal128, "minKey": bsoncore.TypeMinKey,
	"maxKey": bsoncore.TypeMaxKey,
}

// compileOps parses an operator document {$gt: 1, $lt: 5}.
func compileOps(path string, p []string, ops bsoncore.Document) ([]*fieldNode, error) {
	elems, _ := ops.Elements()
	var out []*fieldNode
	options := ""
	if o, err := ops.LookupErr("$options"); err == nil {
		options, _ = o.StringValueOK()
	}
	for _, e := range elems {
		op, arg := e.Key(), e.Value()
		f := &fieldNode{path: p, pathStr: path, op: op, arg: arg}
		switch op {
		case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists":
		case "$options":
			continue
		case "$in", "$nin", "$all":
			arr, ok := arg.ArrayOK()
			if !ok {
				return nil, badValue("%s needs an array", op)
			}
			f.list, _ = arr.Values()
			for _, v := range f.list {
				if v.Type == bsoncore.TypeRegex {
					pat, o := v.Regex()
					re, err := compileRegex(pat, o)
					if err != nil {
						return nil, err
					}
					f.res = append(f.res, re)
				}
				if op != "$all" && isOperatorDoc(v) {
					return nil, badValue("cannot nest $ under %s", op)
				}
			}
		case "$regex":
			var pat string
			switch arg.Type {
			case bsoncore.TypeString:
				pat = arg.StringValue()
			case bsoncore.TypeRegex:
				var o string
				pat, o = arg.Regex()
				if options == "" {
					options = o
				}
			default:
				return nil, badValue("$regex has to be a string")
			}
			re, err := compileRegex(pat, options)
			if err != nil {
				return nil, err
			}
			f.res = []*regexp.Regexp{re}
			f.arg = bsoncore.Value{Type: bsoncore.TypeRegex, Data: bsoncore.AppendRegex(nil, pat, options)}
		case "$size":
			if _, ok := integer(arg); !ok {
				return nil, badValue("$size needs a number")
			}
		case "$not":
			switch {
			case arg.Type == bsoncore.TypeRegex:
				pat, o := arg.Regex()
				re, err := compileRegex(pat, o)
				if err != nil {
					return nil, err
				}
				f.inner = []*fieldNode{{path: p, pathStr: path, op: "$regex", arg: arg, res: []*regexp.Regexp{re}}}
			case isOperatorDoc(arg):
				in, err := compileOps(path, p, bsoncore.Document(arg.Data))
				if err != nil {
					return nil, err
				}
				f.inner = in
			default:
				return nil, badValue("$not needs a regex or a document")
			}
		case "$elemMatch":
			d, ok := arg.DocumentOK()
			if !ok {
				return nil, badValue("$elemMatch needs an Object")
			}
			if isOperatorDoc(arg) {
				in, err := compileOps(path, p, d)
				if err != nil {
					return nil, err
				}
				f.inner = in
			} else {
				sub, err := compileFilter(d)
				if err != nil {
					return nil, err
				}
				f.sub = sub
			}
		case "$type":
			var specs []bsoncore.Value
			if arr, ok := arg.ArrayOK(); ok {
				specs, _ = arr.Values()
			} else {
				specs = []bsoncore.Value{arg}
			}
			for _, s := range specs {
				if name, ok := s.StringValueOK(); ok {
					if name == "number" {
						f.numeric = true
						continue
					}
					t, known := typeNames[name]
					if !known {
						return nil, badValue("unknown type name alias: %s", name)
					}
					f.types = append(f.types, t)
				} else if n, ok := integer(s); ok {
					f.types = append(f.types, bsoncore.Type(n))
				} else {
					return nil, badValue("type must be represented as a number or a string")
				}
			}
		case "$mod":
			arr, ok := arg.ArrayOK()
			vals, _ := arr.Values()
			if !ok || len(vals) != 2 {
				return nil, badValue("malformed mod, needs to be an array of two numbers")
			}
			d, ok1 := integer(vals[0])
			r, ok2 := integer(vals[1])
			if !ok1 || !ok2 || d == 0 {
				return nil, badValue("malformed mod, divisor must be a non-zero number")
			}
			f.mod = [2]int64{d, r}
		default:
			return nil, badValue("unknown operator: %s", op)
		}
		out = append(out, f)
	}
	return out, nil
}
