// Update documents: a replacement, or the operators $set, $unset, $inc,
// $mul, $min, $max, $rename, $setOnInsert, $currentDate, $push (with
// $each), $addToSet (with $each), $pull and $pop, on dotted paths.
// Documents are decoded into bson.D for the change and encoded again.
package query

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// GoValue turns a raw value into the Go value bson.D holds.
func GoValue(v bsoncore.Value) any {
	var out any
	if err := (bson.RawValue{Type: bson.Type(v.Type), Value: v.Data}).Unmarshal(&out); err != nil {
		return nil
	}
	return out
}

// coreValue turns a Go value of a bson.D back into a raw value.
func coreValue(x any) bsoncore.Value {
	t, data, err := bson.MarshalValue(x)
	if err != nil {
		return bsoncore.Value{Type: bsoncore.TypeNull}
	}
	return bsoncore.Value{Type: bsoncore.Type(t), Data: data}
}

func ToD(doc bsoncore.Document) (bson.D, error) {
	var d bson.D
	err := bson.Unmarshal(doc, &d)
	return d, err
}

func FromD(d bson.D) (bsoncore.Document, error) {
	raw, err := bson.Marshal(d)
	return bsoncore.Document(raw), err
}

// IsReplacement: an update document with no operator is a whole new document.
func IsReplacement(u bsoncore.Document) bool {
	e, err := u.IndexErr(0)
	return err != nil || !strings.HasPrefix(e.Key(), "$")
}

// ReplaceDoc makes the replacement of old by u, keeping _id first.
func ReplaceDoc(old, u bsoncore.Document) (bsoncore.Document, error) {
	id := old.Lookup("_id")
	if nid, err := u.LookupErr("_id"); err == nil && !Missing(id) && CompareValues(nid, id) != 0 {
		return nil, Errorf(66, "ImmutableField", "the (immutable) field '_id' was found to have been altered")
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	if !Missing(id) {
		out = bsoncore.AppendValueElement(out, "_id", id)
	}
	elems, _ := u.Elements()
	for _, e := range elems {
		if e.Key() == "_id" {
			continue
		}
		if strings.HasPrefix(e.Key(), "$") {
			return nil, BadValue("the dollar ($) prefixed field '%s' is not allowed in a replacement", e.Key())
		}
		out = bsoncore.AppendValueElement(out, e.Key(), e.Value())
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out, nil
}

// ApplyUpdate applies an operator document to doc. inserting is true for
// the document an upsert makes ($setOnInsert applies then only).
func ApplyUpdate(doc bsoncore.Document, u bsoncore.Document, inserting bool) (bsoncore.Document, error) {
	d, err := ToD(doc)
	if err != nil {
		return nil, err
	}
	ops, _ := u.Elements()
	for _, op := range ops {
		args, ok := op.Value().DocumentOK()
		if !ok {
			return nil, Errorf(9, "FailedToParse", "modifier %s needs a document", op.Key())
		}
		fields, _ := args.Elements()
		for _, f := range fields {
			path, arg := f.Key(), f.Value()
			if path == "_id" || strings.HasPrefix(path, "_id.") {
				if op.Key() != "$setOnInsert" && !(op.Key() == "$set" && CompareValues(arg, doc.Lookup("_id")) == 0) {
					return nil, Errorf(66, "ImmutableField", "performing an update on the path '_id' would modify the immutable field '_id'")
				}
			}
			if err := applyOp(&d, op.Key(), SplitPath(path), arg, inserting); err != nil {
				return nil, err
			}
		}
	}
	return FromD(d)
}

func applyOp(d *bson.D, op string, path []string, arg bsoncore.Value, inserting bool) error {
	switch op {
	case "$set":
		return SetPath(d, path, GoValue(arg))
	case "$setOnInsert":
		if inserting {
			return SetPath(d, path, GoValue(arg))
		}
		return nil
	case "$unset":
		UnsetPath(d, path)
		return nil
	case "$inc", "$mul":
		old, found := getPath(*d, path)
		if _, ok := Number(arg); !ok {
			return Errorf(14, "TypeMismatch", "cannot %s with non-numeric argument", strings.TrimPrefix(op, "$"))
		}
		if !found {
			if op == "$mul" {
				return SetPath(d, path, Arithmetic(int32(0), GoValue(arg), "$mul"))
			}
			return SetPath(d, path, GoValue(arg))
		}
		if _, ok := Number(coreValue(old)); !ok {
			return Errorf(14, "TypeMismatch", "cannot apply %s to a value of non-numeric type", op)
		}
		return SetPath(d, path, Arithmetic(old, GoValue(arg), op))
	case "$min", "$max":
		old, found := getPath(*d, path)
		c := 0
		if found {
			c = CompareValues(coreValue(old), arg)
		}
		if !found || (op == "$min" && c > 0) || (op == "$max" && c < 0) {
			return SetPath(d, path, GoValue(arg))
		}
		return nil
	case "$rename":
		to, ok := arg.StringValueOK()
		if !ok {
			return BadValue("the 'to' field for $rename must be a string")
		}
		old, found := getPath(*d, path)
		if !found {
			return nil
		}
		UnsetPath(d, path)
		return SetPath(d, SplitPath(to), old)
	case "$currentDate":
		now := time.Now()
		if spec, ok := arg.DocumentOK(); ok {
			if t, _ := spec.Lookup("$type").StringValueOK(); t == "timestamp" {
				return SetPath(d, path, bson.Timestamp{T: uint32(now.Unix()), I: 1})
			}
		}
		return SetPath(d, path, bson.NewDateTimeFromTime(now))
	case "$push", "$addToSet":
		items := []bsoncore.Value{arg}
		if spec, ok := arg.DocumentOK(); ok {
			if each, err := spec.LookupErr("$each"); err == nil {
				arr, ok := each.ArrayOK()
				if !ok {
					return BadValue("$each needs an array")
				}
				items, _ = arr.Values()
			}
		}
		old, found := getPath(*d, path)
		var list bson.A
		if found {
			a, ok := old.(bson.A)
			if !ok {
				return BadValue("the field '%s' must be an array", strings.Join(path, "."))
			}
			list = a
		}
		for _, it := range items {
			if op == "$addToSet" {
				dup := false
				for _, x := range list {
					dup = dup || CompareValues(coreValue(x), it) == 0
				}
				if dup {
					continue
				}
			}
			list = append(list, GoValue(it))
		}
		return SetPath(d, path, list)
	case "$pull":
		old, found := getPath(*d, path)
		list, ok := old.(bson.A)
		if !found || !ok {
			return nil
		}
		var test func(bsoncore.Value) bool
		if isOperatorDoc(arg) {
			ops, err := compileOps("", nil, bsoncore.Document(arg.Data))
			if err != nil {
				return err
			}
			test = func(v bsoncore.Value) bool {
				for _, o := range ops {
					if !o.matchValues([]bsoncore.Value{v}) {
						return false
					}
				}
				return true
			}
		} else if cond, ok := arg.DocumentOK(); ok {
			n, err := CompileFilter(cond)
			if err != nil {
				return err
			}
			test = func(v bsoncore.Value) bool {
				sub, isDoc := v.DocumentOK()
				return isDoc && n.Match(sub)
			}
		} else {
			test = func(v bsoncore.Value) bool { return CompareValues(v, arg) == 0 }
		}
		var kept bson.A
		for _, x := range list {
			if !test(coreValue(x)) {
				kept = append(kept, x)
			}
		}
		if kept == nil {
			kept = bson.A{}
		}
		return SetPath(d, path, kept)
	case "$pop":
		old, found := getPath(*d, path)
		list, ok := old.(bson.A)
		if !found || !ok || len(list) == 0 {
			return nil
		}
		if n, _ := Integer(arg); n < 0 {
			return SetPath(d, path, list[1:])
		}
		return SetPath(d, path, list[:len(list)-1])
	}
	return Errorf(9, "FailedToParse", "Unknown modifier: %s. Expected a valid update modifier or pipeline-style update specified as an array", op)
}

// Arithmetic does $inc / $mul keeping MongoDB's result types: int32 until
// it overflows, int64 until it overflows, double otherwise.
func Arithmetic(a, b any, op string) any {
	ai, aInt := Integer(coreValue(a))
	bi, bInt := Integer(coreValue(b))
	_, aDouble := a.(float64)
	_, bDouble := b.(float64)
	if aInt && bInt && !aDouble && !bDouble {
		var r int64
		var overflow bool
		if op == "$inc" {
			r = ai + bi
			overflow = (bi > 0 && r < ai) || (bi < 0 && r > ai)
		} else {
			r = ai * bi
			overflow = ai != 0 && r/ai != bi
		}
		if !overflow {
			_, a32 := a.(int32)
			_, b32 := b.(int32)
			if a32 && b32 && r >= math.MinInt32 && r <= math.MaxInt32 {
				return int32(r)
			}
			return r
		}
	}
	af, _ := Number(coreValue(a))
	bf, _ := Number(coreValue(b))
	if op == "$inc" {
		return af + bf
	}
	return af * bf
}

// getPath reads a dotted path of documents and array positions.
func getPath(d bson.D, path []string) (any, bool) {
	var cur any = d
	for _, p := range path {
		switch c := cur.(type) {
		case bson.D:
			found := false
			for _, e := range c {
				if e.Key == p {
					cur, found = e.Value, true
					break
				}
			}
			if !found {
				return nil, false
			}
		case bson.A:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// SetPath writes a value at a dotted path, making the documents on the way.
func SetPath(d *bson.D, path []string, v any) error {
	for i, e := range *d {
		if e.Key != path[0] {
			continue
		}
		if len(path) == 1 {
			(*d)[i].Value = v
			return nil
		}
		switch c := e.Value.(type) {
		case bson.D:
			if err := SetPath(&c, path[1:], v); err != nil {
				return err
			}
			(*d)[i].Value = c
			return nil
		case bson.A:
			idx, err := strconv.Atoi(path[1])
			if err != nil || idx < 0 {
				return Errorf(28, "PathNotViable", "cannot create field '%s' in element {%s: [...]}", path[1], path[0])
			}
			for len(c) <= idx {
				c = append(c, nil)
			}
			if len(path) == 2 {
				c[idx] = v
			} else {
				sub, ok := c[idx].(bson.D)
				if !ok {
					sub = bson.D{}
				}
				if err := SetPath(&sub, path[2:], v); err != nil {
					return err
				}
				c[idx] = sub
			}
			(*d)[i].Value = c
			return nil
		default:
			return Errorf(28, "PathNotViable", "cannot create field '%s' in element {%s: ...}", path[1], path[0])
		}
	}
	if len(path) == 1 {
		*d = append(*d, bson.E{Key: path[0], Value: v})
		return nil
	}
	sub := bson.D{}
	if err := SetPath(&sub, path[1:], v); err != nil {
		return err
	}
	*d = append(*d, bson.E{Key: path[0], Value: sub})
	return nil
}

func UnsetPath(d *bson.D, path []string) {
	for i, e := range *d {
		if e.Key != path[0] {
			continue
		}
		if len(path) == 1 {
			*d = append((*d)[:i], (*d)[i+1:]...)
			return
		}
		switch c := e.Value.(type) {
		case bson.D:
			UnsetPath(&c, path[1:])
			(*d)[i].Value = c
		case bson.A:
			if idx, err := strconv.Atoi(path[1]); err == nil && idx >= 0 && idx < len(c) && len(path) == 2 {
				c[idx] = nil
				(*d)[i].Value = c
			}
		}
		return
	}
}

// UpsertSeed is the document an upsert starts from: the filter's plain
// equalities ({a: 1, "b.c": 2} gives {a: 1, b: {c: 2}}).
func UpsertSeed(filter bsoncore.Document) (bson.D, error) {
	d := bson.D{}
	elems, _ := filter.Elements()
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		if strings.HasPrefix(k, "$") {
			if k == "$and" {
				arr, _ := v.ArrayOK()
				parts, _ := arr.Values()
				for _, p := range parts {
					if pd, ok := p.DocumentOK(); ok {
						sub, err := UpsertSeed(pd)
						if err != nil {
							return nil, err
						}
						for _, se := range sub {
							if err := SetPath(&d, SplitPath(se.Key), se.Value); err != nil {
								return nil, err
							}
						}
					}
				}
			}
			continue
		}
		if isOperatorDoc(v) {
			if eq, err := bsoncore.Document(v.Data).LookupErr("$eq"); err == nil {
				v = eq
			} else {
				continue
			}
		}
		if v.Type == bsoncore.TypeRegex {
			continue
		}
		if err := SetPath(&d, SplitPath(k), GoValue(v)); err != nil {
			return nil, err
		}
	}
	return d, nil
}
