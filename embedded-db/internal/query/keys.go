// Order-preserving keys of BSON values: byte strings that compare with
// memcmp (bytes.Compare, SQLite's BLOB order) exactly as MongoDB compares
// the values (the "comparison/sort order" of the MongoDB manual):
//
//	MinKey < missing < null < numbers < strings < documents < arrays
//	       < binary < ObjectId < booleans < dates < timestamps < regexes < MaxKey
//
// Numbers compare by value whatever their BSON type (int32 5 == double 5.0),
// strings by their UTF-8 bytes (the simple collation). A missing field gets
// a key of its own just below null, so that {f: {$exists: false}} is an
// equality on the index; MongoDB sorts missing and null together, here
// missing comes first among them. Every key is self-delimiting, so that the
// keys of a document's fields can be concatenated.
package query

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// The first byte of a key: the value's place in MongoDB's type order.
const (
	clsMinKey    = 0x01
	ClsMissing   = 0x04
	clsNull      = 0x05
	clsNumber    = 0x10
	ClsString    = 0x14
	clsDocument  = 0x18
	clsArray     = 0x1c
	clsBinary    = 0x20
	clsObjectID  = 0x24
	clsBool      = 0x28
	clsDate      = 0x2c
	clsTimestamp = 0x30
	clsRegex     = 0x34
	clsCode      = 0x38
	clsMaxKey    = 0x7f
)

var MissingKey = []byte{ClsMissing}
var NullKey = []byte{clsNull}

// class is the type-order class of a BSON type.
func class(t bsoncore.Type) byte {
	switch t {
	case bsoncore.TypeMinKey:
		return clsMinKey
	case bsoncore.TypeNull, bsoncore.TypeUndefined:
		return clsNull
	case bsoncore.TypeDouble, bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDecimal128:
		return clsNumber
	case bsoncore.TypeString, bsoncore.TypeSymbol:
		return ClsString
	case bsoncore.TypeEmbeddedDocument:
		return clsDocument
	case bsoncore.TypeArray:
		return clsArray
	case bsoncore.TypeBinary:
		return clsBinary
	case bsoncore.TypeObjectID:
		return clsObjectID
	case bsoncore.TypeBoolean:
		return clsBool
	case bsoncore.TypeDateTime:
		return clsDate
	case bsoncore.TypeTimestamp:
		return clsTimestamp
	case bsoncore.TypeRegex:
		return clsRegex
	case bsoncore.TypeMaxKey:
		return clsMaxKey
	default:
		return clsCode
	}
}

// appendOrderedFloat appends f so that bytes order as numbers do; NaN
// sorts below every number, as in MongoDB.
func appendOrderedFloat(dst []byte, f float64) []byte {
	var bits uint64
	switch {
	case math.IsNaN(f):
		bits = 0
	case f == 0:
		bits = 1 << 63 // -0 and +0 are one number
	case math.Signbit(f):
		bits = ^math.Float64bits(f)
	default:
		bits = math.Float64bits(f) | 1<<63
	}
	return binary.BigEndian.AppendUint64(dst, bits)
}

func appendOrderedInt(dst []byte, i int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(i)^(1<<63))
}

// appendNumber: the value as a double (its place among all numbers), then
// its integer part exactly, which orders int64s beyond 2^53 that share a
// double and makes an int64 equal to the double of the same value.
func appendNumber(dst []byte, v bsoncore.Value) []byte {
	var f float64
	var whole int64
	switch v.Type {
	case bsoncore.TypeInt32:
		i := int64(v.Int32())
		f, whole = float64(i), i
	case bsoncore.TypeInt64:
		i := v.Int64()
		f, whole = float64(i), i
	case bsoncore.TypeDouble:
		f = v.Double()
		whole = truncToInt64(f)
	case bsoncore.TypeDecimal128:
		h, l := v.Decimal128()
		f, _ = strconv.ParseFloat(bson.NewDecimal128(h, l).String(), 64)
		whole = truncToInt64(f)
	}
	dst = append(dst, clsNumber)
	dst = appendOrderedFloat(dst, f)
	return appendOrderedInt(dst, whole)
}

func truncToInt64(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return math.MinInt64
	case f >= 9.223372036854775807e18:
		return math.MaxInt64
	case f <= -9.223372036854775808e18:
		return math.MinInt64
	default:
		return int64(f)
	}
}

// appendEscaped appends s with 0x00 written 0x00 0xFF and a 0x00 0x00
// terminator: memcmp order of the result is the byte order of s, and the
// result is self-delimiting.
func appendEscaped(dst []byte, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, 0xff)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, 0, 0)
}

// appendKey appends the key of v.
func appendKey(dst []byte, v bsoncore.Value) []byte {
	switch v.Type {
	case bsoncore.Type(0):
		return append(dst, ClsMissing)
	case bsoncore.TypeMinKey, bsoncore.TypeMaxKey, bsoncore.TypeNull, bsoncore.TypeUndefined:
		return append(dst, class(v.Type))
	case bsoncore.TypeDouble, bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDecimal128:
		return appendNumber(dst, v)
	case bsoncore.TypeString, bsoncore.TypeSymbol:
		s, _, _ := bsoncore.ReadString(v.Data)
		if v.Type == bsoncore.TypeSymbol {
			s = v.Symbol()
		}
		return appendEscaped(append(dst, ClsString), []byte(s))
	case bsoncore.TypeEmbeddedDocument:
		dst = append(dst, clsDocument)
		elems, _ := bsoncore.Document(v.Data).Elements()
		for _, e := range elems {
			dst = appendEscaped(dst, []byte(e.Key()))
			dst = appendKey(dst, e.Value())
		}
		return append(dst, 0)
	case bsoncore.TypeArray:
		dst = append(dst, clsArray)
		vals, _ := bsoncore.Array(v.Data).Values()
		for _, e := range vals {
			dst = appendKey(dst, e)
		}
		return append(dst, 0)
	case bsoncore.TypeBinary:
		sub, data := v.Binary()
		dst = append(dst, clsBinary)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
		dst = append(dst, sub)
		return append(dst, data...)
	case bsoncore.TypeObjectID:
		oid := v.ObjectID()
		return append(append(dst, clsObjectID), oid[:]...)
	case bsoncore.TypeBoolean:
		if v.Boolean() {
			return append(dst, clsBool, 1)
		}
		return append(dst, clsBool, 0)
	case bsoncore.TypeDateTime:
		return appendOrderedInt(append(dst, clsDate), v.DateTime())
	case bsoncore.TypeTimestamp:
		t, i := v.Timestamp()
		dst = binary.BigEndian.AppendUint32(append(dst, clsTimestamp), t)
		return binary.BigEndian.AppendUint32(dst, i)
	case bsoncore.TypeRegex:
		p, o := v.Regex()
		return appendEscaped(appendEscaped(append(dst, clsRegex), []byte(p)), []byte(o))
	default:
		return appendEscaped(append(dst, clsCode, byte(v.Type)), v.Data)
	}
}

// KeyOf is the key of v; a zero Value (Type 0) stands for a missing field.
func KeyOf(v bsoncore.Value) []byte { return appendKey(nil, v) }

// CompareValues orders two values as MongoDB does.
func CompareValues(a, b bsoncore.Value) int { return bytes.Compare(KeyOf(a), KeyOf(b)) }

// ClassBounds are the smallest and the first-not-included keys of v's class:
// a range query matches values of its own type class only.
func ClassBounds(v bsoncore.Value) (lo, hi []byte) {
	c := class(v.Type)
	return []byte{c}, []byte{c + 1}
}

// DecodeKey turns a key back into a value where the key says everything:
// missing (Type 0), null, numbers (int64 when whole, else double), strings,
// booleans, ObjectIds and dates. ok is false for other keys.
func DecodeKey(k []byte) (bsoncore.Value, bool) {
	if len(k) == 0 {
		return bsoncore.Value{}, false
	}
	switch k[0] {
	case ClsMissing:
		return bsoncore.Value{}, true
	case clsNull:
		return bsoncore.Value{Type: bsoncore.TypeNull}, true
	case clsNumber:
		if len(k) != 17 {
			return bsoncore.Value{}, false
		}
		bits := binary.BigEndian.Uint64(k[1:9])
		if bits&(1<<63) != 0 {
			bits &^= 1 << 63
		} else {
			bits = ^bits
		}
		f := math.Float64frombits(bits)
		whole := int64(binary.BigEndian.Uint64(k[9:17]) ^ (1 << 63))
		if float64(whole) == f || (f == math.Trunc(f) && math.Abs(f) >= 1<<53) {
			return bsoncore.Value{Type: bsoncore.TypeInt64, Data: bsoncore.AppendInt64(nil, whole)}, true
		}
		return bsoncore.Value{Type: bsoncore.TypeDouble, Data: bsoncore.AppendDouble(nil, f)}, true
	case ClsString:
		s, rest, ok := readEscaped(k[1:])
		if !ok || len(rest) != 0 {
			return bsoncore.Value{}, false
		}
		return bsoncore.Value{Type: bsoncore.TypeString, Data: bsoncore.AppendString(nil, string(s))}, true
	case clsBool:
		if len(k) != 2 {
			return bsoncore.Value{}, false
		}
		return bsoncore.Value{Type: bsoncore.TypeBoolean, Data: bsoncore.AppendBoolean(nil, k[1] == 1)}, true
	case clsObjectID:
		if len(k) != 13 {
			return bsoncore.Value{}, false
		}
		return bsoncore.Value{Type: bsoncore.TypeObjectID, Data: append([]byte(nil), k[1:]...)}, true
	case clsDate:
		if len(k) != 9 {
			return bsoncore.Value{}, false
		}
		ms := int64(binary.BigEndian.Uint64(k[1:]) ^ (1 << 63))
		return bsoncore.Value{Type: bsoncore.TypeDateTime, Data: bsoncore.AppendDateTime(nil, ms)}, true
	}
	return bsoncore.Value{}, false
}

// readEscaped reads what appendEscaped wrote.
func readEscaped(b []byte) (s []byte, rest []byte, ok bool) {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0 {
			s = append(s, b[i])
			continue
		}
		if b[i+1] == 0 {
			return s, b[i+2:], true
		}
		if b[i+1] != 0xff {
			return nil, nil, false
		}
		s = append(s, 0)
		i++
	}
	return nil, nil, false
}
