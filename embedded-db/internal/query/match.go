// Query filters: parsed once into a tree that matches documents in Go with
// MongoDB's semantics, and that the server's translate.go turns into SQL
// over index columns where it can. Supported: implicit and explicit $eq, $ne, $gt,
// $gte, $lt, $lte, $in, $nin, $exists, $regex (with $options i, m, s),
// $not, $size, $all, $elemMatch, $type, $mod, $geoWithin and $geoIntersects
// (geo.go), $text (text.go), and $and, $or, $nor; $comment is ignored.
// $where, $expr and $near (the $geoNear stage answers it) are refused.
package query

import (
	"math"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type Node interface {
	Match(doc bsoncore.Document) bool
}

type TrueNode struct{}

func (TrueNode) Match(bsoncore.Document) bool { return true }

type AndNode []Node

func (n AndNode) Match(doc bsoncore.Document) bool {
	for _, c := range n {
		if !c.Match(doc) {
			return false
		}
	}
	return true
}

type OrNode []Node

func (n OrNode) Match(doc bsoncore.Document) bool {
	for _, c := range n {
		if c.Match(doc) {
			return true
		}
	}
	return false
}

type NorNode []Node

func (n NorNode) Match(doc bsoncore.Document) bool { return !OrNode(n).Match(doc) }

// FieldNode is one operator applied to the values a path reaches.
type FieldNode struct {
	Path    []string
	PathStr string
	Op      string
	Arg     bsoncore.Value
	List    []bsoncore.Value // $in, $nin, $all
	Res     []*regexp.Regexp // $regex, and the regexes inside $in / $nin
	Inner   []*FieldNode     // $not, and $elemMatch on element values
	Sub     Node             // $elemMatch on element documents
	Types   []bsoncore.Type  // $type
	Numeric bool             // $type "number"
	Mod     [2]int64         // $mod
	Geo     Shape            // $geoWithin, $geoIntersects
}

func (f *FieldNode) Match(doc bsoncore.Document) bool {
	return f.matchValues(Lookup(doc, f.Path))
}

func (f *FieldNode) matchValues(vals []bsoncore.Value) bool {
	switch f.Op {
	case "$eq":
		return anyEqual(vals, f.Arg)
	case "$ne":
		return !anyEqual(vals, f.Arg)
	case "$gt", "$gte", "$lt", "$lte":
		return anyValue(vals, true, func(v bsoncore.Value) bool { return compareOp(f.Op, v, f.Arg) })
	case "$in":
		return f.matchIn(vals)
	case "$nin":
		return !f.matchIn(vals)
	case "$exists":
		found := false
		for _, v := range vals {
			found = found || !Missing(v)
		}
		return found == Truthy(f.Arg)
	case "$regex":
		return anyValue(vals, true, func(v bsoncore.Value) bool { return regexMatch(f.Res[0], v) })
	case "$size":
		n, _ := Integer(f.Arg)
		return anyValue(vals, false, func(v bsoncore.Value) bool {
			if v.Type != bsoncore.TypeArray {
				return false
			}
			elems, _ := bsoncore.Array(v.Data).Values()
			return int64(len(elems)) == n
		})
	case "$all":
		if len(f.List) == 0 {
			return false
		}
		for _, want := range f.List {
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
				if f.Sub != nil {
					if e.Type == bsoncore.TypeEmbeddedDocument && f.Sub.Match(bsoncore.Document(e.Data)) {
						return true
					}
					continue
				}
				ok := true
				for _, in := range f.Inner {
					ok = ok && in.matchValues([]bsoncore.Value{e})
				}
				if ok {
					return true
				}
			}
			return false
		})
	case "$not":
		for _, in := range f.Inner {
			if !in.matchValues(vals) {
				return true
			}
		}
		return false
	case "$type":
		return anyValue(vals, true, func(v bsoncore.Value) bool {
			if Missing(v) {
				return false
			}
			if f.Numeric && class(v.Type) == clsNumber {
				return true
			}
			for _, t := range f.Types {
				if v.Type == t {
					return true
				}
			}
			return false
		})
	case "$geoWithin", "$geoIntersects":
		return geoMatch(f.Geo, vals)
	case "$mod":
		return anyValue(vals, true, func(v bsoncore.Value) bool {
			x, ok := Number(v)
			if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
			return int64(x)%f.Mod[0] == f.Mod[1]
		})
	}
	return false
}

func (f *FieldNode) matchIn(vals []bsoncore.Value) bool {
	for _, want := range f.List {
		if want.Type == bsoncore.TypeRegex {
			continue
		}
		if anyEqual(vals, want) {
			return true
		}
	}
	for _, re := range f.Res {
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
		if Missing(v) {
			return wantNull
		}
		return CompareValues(v, want) == 0
	})
}

// compareOp: $gt and friends compare only within one type class.
func compareOp(op string, v, arg bsoncore.Value) bool {
	if Missing(v) || class(v.Type) != class(arg.Type) {
		return false
	}
	c := CompareValues(v, arg)
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
			return nil, BadValue("regular expression option '%c' is not supported", o)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, BadValue("bad regular expression: %v", err)
	}
	return re, nil
}

// CompileFilter parses a query filter.
func CompileFilter(filter bsoncore.Document) (Node, error) {
	n, err := compileFilter(filter)
	if err != nil {
		return nil, err
	}
	count := 0
	if err := checkTextPlacement(n, true, &count); err != nil {
		return nil, err
	}
	return n, nil
}

func compileFilter(filter bsoncore.Document) (Node, error) {
	if len(filter) == 0 {
		return TrueNode{}, nil
	}
	elems, err := filter.Elements()
	if err != nil {
		return nil, BadValue("filter is not a valid document")
	}
	var all AndNode
	for _, e := range elems {
		key, val := e.Key(), e.Value()
		if strings.HasPrefix(key, "$") {
			switch key {
			case "$and", "$or", "$nor":
				arr, ok := val.ArrayOK()
				if !ok {
					return nil, BadValue("%s must be an array", key)
				}
				vals, _ := arr.Values()
				if len(vals) == 0 {
					return nil, BadValue("%s/$or/$nor entries need to be full objects", key)
				}
				var parts []Node
				for _, v := range vals {
					d, ok := v.DocumentOK()
					if !ok {
						return nil, BadValue("%s entries need to be full objects", key)
					}
					n, err := compileFilter(d)
					if err != nil {
						return nil, err
					}
					parts = append(parts, n)
				}
				switch key {
				case "$and":
					all = append(all, AndNode(parts))
				case "$or":
					all = append(all, OrNode(parts))
				default:
					all = append(all, NorNode(parts))
				}
			case "$text":
				n, err := compileText(val)
				if err != nil {
					return nil, err
				}
				all = append(all, n)
			case "$comment":
			default:
				return nil, NotSupported("the query operator " + key)
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
func compileField(path string, val bsoncore.Value) ([]Node, error) {
	p := SplitPath(path)
	if val.Type == bsoncore.TypeRegex {
		pat, opts := val.Regex()
		re, err := compileRegex(pat, opts)
		if err != nil {
			return nil, err
		}
		return []Node{&FieldNode{Path: p, PathStr: path, Op: "$regex", Arg: val, Res: []*regexp.Regexp{re}}}, nil
	}
	if !isOperatorDoc(val) {
		return []Node{&FieldNode{Path: p, PathStr: path, Op: "$eq", Arg: val}}, nil
	}
	ops, err := compileOps(path, p, bsoncore.Document(val.Data))
	if err != nil {
		return nil, err
	}
	out := make([]Node, len(ops))
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
func compileOps(path string, p []string, ops bsoncore.Document) ([]*FieldNode, error) {
	elems, _ := ops.Elements()
	var out []*FieldNode
	options := ""
	if o, err := ops.LookupErr("$options"); err == nil {
		options, _ = o.StringValueOK()
	}
	for _, e := range elems {
		op, arg := e.Key(), e.Value()
		f := &FieldNode{Path: p, PathStr: path, Op: op, Arg: arg}
		switch op {
		case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists":
		case "$options":
			continue
		case "$in", "$nin", "$all":
			arr, ok := arg.ArrayOK()
			if !ok {
				return nil, BadValue("%s needs an array", op)
			}
			f.List, _ = arr.Values()
			for _, v := range f.List {
				if v.Type == bsoncore.TypeRegex {
					pat, o := v.Regex()
					re, err := compileRegex(pat, o)
					if err != nil {
						return nil, err
					}
					f.Res = append(f.Res, re)
				}
				if op != "$all" && isOperatorDoc(v) {
					return nil, BadValue("cannot nest $ under %s", op)
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
				return nil, BadValue("$regex has to be a string")
			}
			re, err := compileRegex(pat, options)
			if err != nil {
				return nil, err
			}
			f.Res = []*regexp.Regexp{re}
			f.Arg = bsoncore.Value{Type: bsoncore.TypeRegex, Data: bsoncore.AppendRegex(nil, pat, options)}
		case "$size":
			if _, ok := Integer(arg); !ok {
				return nil, BadValue("$size needs a number")
			}
		case "$not":
			switch {
			case arg.Type == bsoncore.TypeRegex:
				pat, o := arg.Regex()
				re, err := compileRegex(pat, o)
				if err != nil {
					return nil, err
				}
				f.Inner = []*FieldNode{{Path: p, PathStr: path, Op: "$regex", Arg: arg, Res: []*regexp.Regexp{re}}}
			case isOperatorDoc(arg):
				in, err := compileOps(path, p, bsoncore.Document(arg.Data))
				if err != nil {
					return nil, err
				}
				f.Inner = in
			default:
				return nil, BadValue("$not needs a regex or a document")
			}
		case "$elemMatch":
			d, ok := arg.DocumentOK()
			if !ok {
				return nil, BadValue("$elemMatch needs an Object")
			}
			if isOperatorDoc(arg) {
				in, err := compileOps(path, p, d)
				if err != nil {
					return nil, err
				}
				f.Inner = in
			} else {
				sub, err := compileFilter(d)
				if err != nil {
					return nil, err
				}
				f.Sub = sub
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
						f.Numeric = true
						continue
					}
					t, known := typeNames[name]
					if !known {
						return nil, BadValue("unknown type name alias: %s", name)
					}
					f.Types = append(f.Types, t)
				} else if n, ok := Integer(s); ok {
					f.Types = append(f.Types, bsoncore.Type(n))
				} else {
					return nil, BadValue("type must be represented as a number or a string")
				}
			}
		case "$mod":
			arr, ok := arg.ArrayOK()
			vals, _ := arr.Values()
			if !ok || len(vals) != 2 {
				return nil, BadValue("malformed mod, needs to be an array of two numbers")
			}
			d, ok1 := Integer(vals[0])
			r, ok2 := Integer(vals[1])
			if !ok1 || !ok2 || d == 0 {
				return nil, BadValue("malformed mod, divisor must be a non-zero number")
			}
			f.Mod = [2]int64{d, r}
		case "$geoWithin", "$geoIntersects":
			shape, err := parseGeoOp(op, arg)
			if err != nil {
				return nil, err
			}
			f.Geo = shape
		case "$near", "$nearSphere":
			return nil, NotSupported(op + " in a filter (use the $geoNear aggregation stage)")
		default:
			return nil, BadValue("unknown operator: %s", op)
		}
		out = append(out, f)
	}
	return out, nil
}
