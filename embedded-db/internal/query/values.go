// Small helpers over raw BSON (bsoncore): building values, reading paths
// the way MongoDB does (through arrays), and the errors commands answer.
package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// CmdError is a command failure as MongoDB reports it: {ok: 0, errmsg, code, codeName}.
type CmdError struct {
	Code int32
	Name string
	Msg  string
}

func (e *CmdError) Error() string { return e.Msg }

func Errorf(code int32, name, format string, args ...any) *CmdError {
	return &CmdError{Code: code, Name: name, Msg: fmt.Sprintf(format, args...)}
}

func BadValue(format string, args ...any) *CmdError {
	return Errorf(2, "BadValue", format, args...)
}

func NotSupported(what string) *CmdError {
	return Errorf(238, "NotImplemented", "%s is not supported by roost-embedded-db", what)
}

func VInt32(i int32) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeInt32, Data: bsoncore.AppendInt32(nil, i)}
}

func VInt64(i int64) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, i)}
}

func VDouble(f float64) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, f)}
}

func VString(s string) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeString, Data: bsoncore.AppendString(nil, s)}
}

func VBool(b bool) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeBoolean, Data: bsoncore.AppendBoolean(nil, b)}
}

func VNull() bsoncore.Value { return bsoncore.Value{Type: bsoncore.TypeNull} }

func VDoc(d bsoncore.Document) bsoncore.Value {
	return bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: d}
}

func VArray(vals []bsoncore.Value) bsoncore.Value {
	idx, arr := bsoncore.AppendArrayStart(nil)
	for i, v := range vals {
		arr = bsoncore.AppendValueElement(arr, strconv.Itoa(i), v)
	}
	arr, _ = bsoncore.AppendArrayEnd(arr, idx)
	return bsoncore.Value{Type: bsoncore.TypeArray, Data: arr}
}

// Missing reports whether v stands for an absent field.
func Missing(v bsoncore.Value) bool { return v.Type == 0 }

// Number reads any numeric value as a double, and says whether it was one.
func Number(v bsoncore.Value) (float64, bool) {
	switch v.Type {
	case bsoncore.TypeInt32:
		return float64(v.Int32()), true
	case bsoncore.TypeInt64:
		return float64(v.Int64()), true
	case bsoncore.TypeDouble:
		return v.Double(), true
	}
	return 0, false
}

// Integer reads a whole number from any numeric type.
func Integer(v bsoncore.Value) (int64, bool) {
	switch v.Type {
	case bsoncore.TypeInt32:
		return int64(v.Int32()), true
	case bsoncore.TypeInt64:
		return v.Int64(), true
	case bsoncore.TypeDouble:
		f := v.Double()
		if f == float64(int64(f)) {
			return int64(f), true
		}
	}
	return 0, false
}

// Truthy: how MongoDB reads a flag such as {unique: 1} or {upsert: true}.
func Truthy(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeBoolean:
		return v.Boolean()
	case bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDouble:
		f, _ := Number(v)
		return f != 0
	case 0, bsoncore.TypeNull, bsoncore.TypeUndefined:
		return false
	}
	return true
}

func SplitPath(p string) []string { return strings.Split(p, ".") }

// Resolve finds every value `path` reaches from v, as MongoDB's query
// language does: through documents by name and through arrays both by
// position ("a.0") and by the elements' own fields ("a.b" of [{b: 1}, {b: 2}]).
// A path that reaches nothing gives one missing value.
func Resolve(v bsoncore.Value, path []string, out []bsoncore.Value) []bsoncore.Value {
	if len(path) == 0 {
		return append(out, v)
	}
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument:
		child, err := bsoncore.Document(v.Data).LookupErr(path[0])
		if err != nil {
			return append(out, bsoncore.Value{})
		}
		return Resolve(child, path[1:], out)
	case bsoncore.TypeArray:
		before := len(out)
		vals, _ := bsoncore.Array(v.Data).Values()
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 {
			if i < len(vals) {
				out = Resolve(vals[i], path[1:], out)
			}
		}
		for _, e := range vals {
			if e.Type == bsoncore.TypeEmbeddedDocument {
				out = Resolve(e, path, out)
			}
		}
		if len(out) == before {
			out = append(out, bsoncore.Value{})
		}
		return out
	}
	return append(out, bsoncore.Value{})
}

// Lookup is resolve from a whole document.
func Lookup(doc bsoncore.Document, path []string) []bsoncore.Value {
	return Resolve(VDoc(doc), path, nil)
}

// LookupOne is the value at a path of plain documents (no arrays), or a
// missing value: what sort keys and index keys use.
func LookupOne(doc bsoncore.Document, path []string) bsoncore.Value {
	v, err := doc.LookupErr(path...)
	if err != nil {
		return bsoncore.Value{}
	}
	return v
}

// BuildDoc assembles a document from alternating keys and values.
func BuildDoc(kv ...any) bsoncore.Document {
	idx, doc := bsoncore.AppendDocumentStart(nil)
	for i := 0; i+1 < len(kv); i += 2 {
		doc = bsoncore.AppendValueElement(doc, kv[i].(string), kv[i+1].(bsoncore.Value))
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// ErrorDoc is the reply to a failed command: err's code and name when it is
// a CmdError, InternalError otherwise.
func ErrorDoc(err error) bsoncore.Document {
	var ce *CmdError
	if !errors.As(err, &ce) {
		ce = &CmdError{Code: 1, Name: "InternalError", Msg: err.Error()}
	}
	return BuildDoc("ok", VDouble(0), "errmsg", VString(ce.Msg), "code", VInt32(ce.Code), "codeName", VString(ce.Name))
}
