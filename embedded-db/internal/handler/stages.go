// The aggregation stages that run in memory, over documents a read gave:
// $project, $addFields/$set, $unset, $unwind, $group, $count,
// $replaceRoot, and the field-path expressions they evaluate.
package handler

import (
	"roost.local/embedded-db/internal/query"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// runStages applies stages to documents in memory.
func runStages(docs []bsoncore.Document, stages []stage) ([]bsoncore.Document, error) {
	for _, st := range stages {
		var err error
		switch st.name {
		case "$match":
			d, ok := st.arg.DocumentOK()
			if !ok {
				return nil, query.Errorf(15959, "Location15959", "the match filter must be an expression in an object")
			}
			n, err := query.CompileFilter(d)
			if err != nil {
				return nil, err
			}
			if query.FindText(n) != nil {
				return nil, query.Errorf(17313, "Location17313", "$match with $text is only allowed as the first pipeline stage")
			}
			var kept []bsoncore.Document
			for _, doc := range docs {
				if n.Match(doc) {
					kept = append(kept, doc)
				}
			}
			docs = kept
		case "$sort":
			d, _ := st.arg.DocumentOK()
			keys, _, err := query.ParseSort(d)
			if err != nil {
				return nil, err
			}
			if query.HasMeta(keys) {
				return nil, query.NotSupported("a $meta sort after the pipeline's first stages")
			}
			query.SortDocs(docs, keys)
		case "$skip":
			n, _ := query.Integer(st.arg)
			if n >= int64(len(docs)) {
				docs = nil
			} else if n > 0 {
				docs = docs[n:]
			}
		case "$limit":
			n, ok := query.Integer(st.arg)
			if !ok || n <= 0 {
				return nil, query.BadValue("$limit needs a positive number")
			}
			if n < int64(len(docs)) {
				docs = docs[:n]
			}
		case "$count":
			name, ok := st.arg.StringValueOK()
			if !ok || name == "" || strings.HasPrefix(name, "$") {
				return nil, query.BadValue("$count needs a field name")
			}
			if len(docs) == 0 {
				docs = nil
			} else {
				docs = []bsoncore.Document{query.BuildDoc(name, countValue(int64(len(docs))))}
			}
		case "$group":
			docs, err = group(docs, st.arg)
		case "$project":
			docs, err = project(docs, st.arg)
		case "$addFields", "$set":
			docs, err = addFields(docs, st.arg)
		case "$unset":
			docs, err = unsetFields(docs, st.arg)
		case "$unwind":
			docs, err = unwind(docs, st.arg)
		case "$replaceRoot", "$replaceWith":
			docs, err = replaceRoot(docs, st)
		default:
			return nil, query.NotSupported("the aggregation stage " + st.name)
		}
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// evalExpr evaluates an aggregation expression: "$path", {$literal: v},
// or a constant (documents of expressions are evaluated field by field).
func evalExpr(doc bsoncore.Document, e bsoncore.Value) (bsoncore.Value, error) {
	switch e.Type {
	case bsoncore.TypeString:
		s := e.StringValue()
		if strings.HasPrefix(s, "$$") {
			if s == "$$ROOT" || s == "$$CURRENT" {
				return query.VDoc(doc), nil
			}
			return bsoncore.Value{}, query.NotSupported("the variable " + s)
		}
		if strings.HasPrefix(s, "$") {
			vals := query.Lookup(doc, query.SplitPath(s[1:]))
			if len(vals) == 1 {
				return vals[0], nil
			}
			var present []bsoncore.Value
			for _, v := range vals {
				if !query.Missing(v) {
					present = append(present, v)
				}
			}
			return query.VArray(present), nil
		}
		return e, nil
	case bsoncore.TypeEmbeddedDocument:
		d := e.Document()
		elems, _ := d.Elements()
		if len(elems) == 1 && strings.HasPrefix(elems[0].Key(), "$") {
			if elems[0].Key() == "$literal" {
				return elems[0].Value(), nil
			}
			return bsoncore.Value{}, query.NotSupported("the expression operator " + elems[0].Key())
		}
		idx, out := bsoncore.AppendDocumentStart(nil)
		for _, el := range elems {
			v, err := evalExpr(doc, el.Value())
			if err != nil {
				return bsoncore.Value{}, err
			}
			if !query.Missing(v) {
				out = bsoncore.AppendValueElement(out, el.Key(), v)
			}
		}
		out, _ = bsoncore.AppendDocumentEnd(out, idx)
		return query.VDoc(out), nil
	}
	return e, nil
}

type accumulator struct {
	name, op string
	expr     bsoncore.Value
}

type groupState struct {
	id    bsoncore.Value
	vals  [][]bsoncore.Value // per accumulator, the inputs
	order int
}

func group(docs []bsoncore.Document, arg bsoncore.Value) ([]bsoncore.Document, error) {
	spec, ok := arg.DocumentOK()
	if !ok {
		return nil, query.Errorf(15947, "Location15947", "a group's fields must be specified in an object")
	}
	elems, _ := spec.Elements()
	idExpr := bsoncore.Value{}
	var accs []accumulator
	for _, e := range elems {
		if e.Key() == "_id" {
			idExpr = e.Value()
			continue
		}
		d, ok := e.Value().DocumentOK()
		ops, _ := d.Elements()
		if !ok || len(ops) != 1 {
			return nil, query.Errorf(40234, "Location40234", "the field '%s' must be an accumulator object", e.Key())
		}
		switch op := ops[0].Key(); op {
		case "$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count":
			accs = append(accs, accumulator{name: e.Key(), op: op, expr: ops[0].Value()})
		default:
			return nil, query.NotSupported("the accumulator " + op)
		}
	}
	if idExpr.Type == 0 {
		return nil, query.Errorf(15955, "Location15955", "a group specification must include an _id")
	}
	groups := map[string]*groupState{}
	var order []*groupState
	for _, doc := range docs {
		id, err := evalExpr(doc, idExpr)
		if err != nil {
			return nil, err
		}
		if query.Missing(id) {
			id = query.VNull()
		}
		k := string(query.KeyOf(id))
		g := groups[k]
		if g == nil {
			g = &groupState{id: id, vals: make([][]bsoncore.Value, len(accs)), order: len(order)}
			groups[k] = g
			order = append(order, g)
		}
		for i, a := range accs {
			var v bsoncore.Value
			if a.op == "$count" {
				v = query.VInt32(1)
			} else if v, err = evalExpr(doc, a.expr); err != nil {
				return nil, err
			}
			g.vals[i] = append(g.vals[i], v)
		}
	}
	var out []bsoncore.Document
	for _, g := range order {
		kv := []any{"_id", g.id}
		for i, a := range accs {
			kv = append(kv, a.name, accumulate(a.op, g.vals[i]))
		}
		out = append(out, query.BuildDoc(kv...))
	}
	return out, nil
}

func accumulate(op string, vals []bsoncore.Value) bsoncore.Value {
	switch op {
	case "$sum", "$count":
		var isum int64
		var fsum float64
		allInt, all32 := true, true
		for _, v := range vals {
			if i, ok := query.Integer(v); ok && v.Type != bsoncore.TypeDouble {
				isum += i
				all32 = all32 && v.Type == bsoncore.TypeInt32
			} else if f, ok := query.Number(v); ok {
				fsum += f
				allInt = false
			}
		}
		if allInt {
			if all32 && isum <= 2147483647 && isum >= -2147483648 {
				return query.VInt32(int32(isum))
			}
			return query.VInt64(isum)
		}
		return query.VDouble(fsum + float64(isum))
	case "$avg":
		var sum float64
		n := 0
		for _, v := range vals {
			if f, ok := query.Number(v); ok {
				sum += f
				n++
			}
		}
		if n == 0 {
			return query.VNull()
		}
		return query.VDouble(sum / float64(n))
	case "$min", "$max":
		var best bsoncore.Value
		for _, v := range vals {
			if query.Missing(v) || v.Type == bsoncore.TypeNull {
				continue
			}
			if query.Missing(best) || (op == "$min" && query.CompareValues(v, best) < 0) || (op == "$max" && query.CompareValues(v, best) > 0) {
				best = v
			}
		}
		if query.Missing(best) {
			return query.VNull()
		}
		return best
	case "$first":
		if len(vals) == 0 || query.Missing(vals[0]) {
			return query.VNull()
		}
		return vals[0]
	case "$last":
		if len(vals) == 0 || query.Missing(vals[len(vals)-1]) {
			return query.VNull()
		}
		return vals[len(vals)-1]
	case "$push", "$addToSet":
		var out []bsoncore.Value
		seen := map[string]bool{}
		for _, v := range vals {
			if query.Missing(v) {
				continue
			}
			if op == "$addToSet" {
				k := string(query.KeyOf(v))
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, v)
		}
		return query.VArray(out)
	}
	return query.VNull()
}

// project: {a: 1, b: 0, c: "$x", _id: 0}.
func project(docs []bsoncore.Document, arg bsoncore.Value) ([]bsoncore.Document, error) {
	spec, ok := arg.DocumentOK()
	if !ok {
		return nil, query.BadValue("$project needs a document")
	}
	elems, _ := spec.Elements()
	exclusion := true
	for _, e := range elems {
		v := e.Value()
		if e.Key() == "_id" {
			continue
		}
		if _, isNum := query.Number(v); isNum || v.Type == bsoncore.TypeBoolean {
			if query.Truthy(v) {
				exclusion = false
			}
			continue
		}
		exclusion = false
	}
	if exclusion {
		var excl []string
		for _, e := range elems {
			if !query.Truthy(e.Value()) {
				excl = append(excl, e.Key())
			}
		}
		return unsetFields(docs, query.VArray(stringsToValues(excl)))
	}
	var out []bsoncore.Document
	for _, doc := range docs {
		idx, nd := bsoncore.AppendDocumentStart(nil)
		idOut := false
		for _, e := range elems {
			if e.Key() == "_id" && !query.Truthy(e.Value()) && (e.Value().Type == bsoncore.TypeBoolean || isNumber(e.Value())) {
				idOut = true
			}
		}
		if !idOut {
			if id, err := doc.LookupErr("_id"); err == nil {
				nd = bsoncore.AppendValueElement(nd, "_id", id)
			}
		}
		for _, e := range elems {
			if e.Key() == "_id" {
				if !idOut && !(e.Value().Type == bsoncore.TypeBoolean || isNumber(e.Value())) {
					return nil, query.NotSupported("computing _id in $project")
				}
				continue
			}
			v := e.Value()
			var val bsoncore.Value
			if isNumber(v) || v.Type == bsoncore.TypeBoolean {
				val = query.LookupOne(doc, query.SplitPath(e.Key()))
			} else {
				var err error
				if val, err = evalExpr(doc, v); err != nil {
					return nil, err
				}
			}
			if !query.Missing(val) {
				nd = bsoncore.AppendValueElement(nd, e.Key(), val)
			}
		}
		nd, _ = bsoncore.AppendDocumentEnd(nd, idx)
		out = append(out, nd)
	}
	return out, nil
}

func isNumber(v bsoncore.Value) bool { _, ok := query.Number(v); return ok }

func stringsToValues(ss []string) []bsoncore.Value {
	out := make([]bsoncore.Value, len(ss))
	for i, s := range ss {
		out[i] = query.VString(s)
	}
	return out
}

func addFields(docs []bsoncore.Document, arg bsoncore.Value) ([]bsoncore.Document, error) {
	spec, ok := arg.DocumentOK()
	if !ok {
		return nil, query.BadValue("$addFields needs a document")
	}
	elems, _ := spec.Elements()
	var out []bsoncore.Document
	for _, doc := range docs {
		d, err := query.ToD(doc)
		if err != nil {
			return nil, err
		}
		for _, e := range elems {
			v, err := evalExpr(doc, e.Value())
			if err != nil {
				return nil, err
			}
			if err := query.SetPath(&d, query.SplitPath(e.Key()), query.GoValue(v)); err != nil {
				return nil, err
			}
		}
		nd, err := query.FromD(d)
		if err != nil {
			return nil, err
		}
		out = append(out, nd)
	}
	return out, nil
}

func unsetFields(docs []bsoncore.Document, arg bsoncore.Value) ([]bsoncore.Document, error) {
	var names []string
	if s, ok := arg.StringValueOK(); ok {
		names = []string{s}
	} else if arr, ok := arg.ArrayOK(); ok {
		vals, _ := arr.Values()
		for _, v := range vals {
			s, _ := v.StringValueOK()
			names = append(names, s)
		}
	} else {
		return nil, query.BadValue("$unset needs a field name or a list of them")
	}
	var out []bsoncore.Document
	for _, doc := range docs {
		d, err := query.ToD(doc)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			query.UnsetPath(&d, query.SplitPath(n))
		}
		nd, err := query.FromD(d)
		if err != nil {
			return nil, err
		}
		out = append(out, nd)
	}
	return out, nil
}

func unwind(docs []bsoncore.Document, arg bsoncore.Value) ([]bsoncore.Document, error) {
	path, ok := arg.StringValueOK()
	keepEmpty := false
	if !ok {
		spec, isDoc := arg.DocumentOK()
		if !isDoc {
			return nil, query.BadValue("$unwind needs a field path")
		}
		path, _ = spec.Lookup("path").StringValueOK()
		keepEmpty = query.Truthy(spec.Lookup("preserveNullAndEmptyArrays"))
		if !query.Missing(spec.Lookup("includeArrayIndex")) {
			return nil, query.NotSupported("$unwind includeArrayIndex")
		}
	}
	if !strings.HasPrefix(path, "$") {
		return nil, query.BadValue("$unwind path must start with '$'")
	}
	parts := query.SplitPath(path[1:])
	var out []bsoncore.Document
	for _, doc := range docs {
		v := query.LookupOne(doc, parts)
		if v.Type != bsoncore.TypeArray {
			if !query.Missing(v) && v.Type != bsoncore.TypeNull || keepEmpty {
				out = append(out, doc)
			}
			continue
		}
		elems, _ := v.Array().Values()
		if len(elems) == 0 && keepEmpty {
			d, _ := query.ToD(doc)
			query.UnsetPath(&d, parts)
			nd, _ := query.FromD(d)
			out = append(out, nd)
		}
		for _, e := range elems {
			d, err := query.ToD(doc)
			if err != nil {
				return nil, err
			}
			if err := query.SetPath(&d, parts, query.GoValue(e)); err != nil {
				return nil, err
			}
			nd, err := query.FromD(d)
			if err != nil {
				return nil, err
			}
			out = append(out, nd)
		}
	}
	return out, nil
}

func replaceRoot(docs []bsoncore.Document, st stage) ([]bsoncore.Document, error) {
	expr := st.arg
	if st.name == "$replaceRoot" {
		spec, ok := st.arg.DocumentOK()
		if !ok {
			return nil, query.BadValue("$replaceRoot needs a document")
		}
		expr = spec.Lookup("newRoot")
	}
	var out []bsoncore.Document
	for _, doc := range docs {
		v, err := evalExpr(doc, expr)
		if err != nil {
			return nil, err
		}
		d, ok := v.DocumentOK()
		if !ok {
			return nil, query.Errorf(40228, "Location40228", "'newRoot' expression must evaluate to an object")
		}
		out = append(out, d)
	}
	return out, nil
}
