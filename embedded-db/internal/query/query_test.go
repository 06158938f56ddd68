// Tests of the query package: keys that order like MongoDB's values, the
// Go matcher, update operators, sorts and projections, each against what
// MongoDB's documentation says of them.
package query

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func TestKeysOrderLikeMongoDB(t *testing.T) {
	ordered := []bson.RawValue{}
	add := func(v any) {
		if v == nil {
			ordered = append(ordered, bson.RawValue{Type: bson.TypeNull})
			return
		}
		typ, data, err := bson.MarshalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		ordered = append(ordered, bson.RawValue{Type: typ, Value: data})
	}
	add(bson.MinKey{})
	add(nil)
	add(-1e300)
	add(int64(-5))
	add(int32(-4))
	add(-3.5)
	add(int32(0))
	add(0.5)
	add(int64(1) << 53)
	add(int64(1)<<53 + 1)
	add(1e300)
	add("")
	add("a")
	add("a\x00")
	add("ab")
	add("b")
	add(bson.D{{Key: "a", Value: 1}})
	add(bson.A{1})
	add(bson.Binary{Subtype: 0, Data: []byte{1}})
	add(bson.NewObjectIDFromTimestamp(time.Unix(1, 0)))
	add(false)
	add(true)
	add(bson.DateTime(-1))
	add(bson.DateTime(5))
	add(bson.Timestamp{T: 1, I: 1})
	add(bson.Regex{Pattern: "a", Options: ""})
	add(bson.MaxKey{})
	for i := 1; i < len(ordered); i++ {
		a := bsoncore.Value{Type: bsoncore.Type(ordered[i-1].Type), Data: ordered[i-1].Value}
		b := bsoncore.Value{Type: bsoncore.Type(ordered[i].Type), Data: ordered[i].Value}
		if CompareValues(a, b) >= 0 {
			t.Errorf("%v should sort before %v", a, b)
		}
	}
	// The same number in three types is one value.
	if CompareValues(VInt32(7), VInt64(7)) != 0 || CompareValues(VInt64(7), VDouble(7)) != 0 {
		t.Error("7 as int32, int64 and double should compare equal")
	}
	if CompareValues(keyValue(t, MissingKey), VNull()) >= 0 {
		t.Error("a missing field sorts just before null")
	}
	for _, v := range []bsoncore.Value{VInt64(-3), VDouble(2.5), VString("x\x00y"), VBool(true), VNull()} {
		back, ok := DecodeKey(KeyOf(v))
		if !ok || CompareValues(back, v) != 0 {
			t.Errorf("decodeKey(keyOf(%v)) = %v", v, back)
		}
	}
}

func keyValue(t *testing.T, k []byte) bsoncore.Value {
	v, ok := DecodeKey(k)
	if !ok {
		t.Fatal("undecodable key")
	}
	return v
}

func doc(t *testing.T, d bson.D) bsoncore.Document {
	t.Helper()
	out, err := FromD(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFiltersMatchAsMongoDBSays(t *testing.T) {
	home := doc(t, bson.D{{Key: "_id", Value: int64(1)}, {Key: "city", Value: "Paris"}, {Key: "price", Value: int64(900)},
		{Key: "tags", Value: bson.A{"sea", "view"}}, {Key: "rooms", Value: bson.A{bson.D{{Key: "kind", Value: "bed"}, {Key: "area", Value: 12.5}}}}})
	cases := []struct {
		filter bson.D
		want   bool
	}{
		{bson.D{{Key: "city", Value: "Paris"}}, true},
		{bson.D{{Key: "city", Value: "paris"}}, false},
		{bson.D{{Key: "price", Value: bson.D{{Key: "$gte", Value: 900}, {Key: "$lt", Value: 901.5}}}}, true},
		{bson.D{{Key: "price", Value: bson.D{{Key: "$in", Value: bson.A{1, 900.0}}}}}, true}, // numbers compare across types
		{bson.D{{Key: "tags", Value: "view"}}, true},                                         // an array matches by element
		{bson.D{{Key: "rooms.kind", Value: "bed"}}, true},
		{bson.D{{Key: "rooms", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "area", Value: bson.D{{Key: "$gt", Value: 20}}}}}}}}, false},
		{bson.D{{Key: "missing", Value: nil}}, true}, // null matches a missing field
		{bson.D{{Key: "missing", Value: bson.D{{Key: "$exists", Value: true}}}}, false},
		{bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "city", Value: "Lyon"}}, bson.D{{Key: "price", Value: 900}}}}}, true},
		{bson.D{{Key: "$nor", Value: bson.A{bson.D{{Key: "city", Value: "Paris"}}}}}, false},
		{bson.D{{Key: "city", Value: bson.D{{Key: "$regex", Value: "^pa"}, {Key: "$options", Value: "i"}}}}, true},
	}
	for _, c := range cases {
		n, err := CompileFilter(doc(t, c.filter))
		if err != nil {
			t.Fatalf("%v: %v", c.filter, err)
		}
		if got := n.Match(home); got != c.want {
			t.Errorf("%v matched %v, want %v", c.filter, got, c.want)
		}
	}
	if _, err := CompileFilter(doc(t, bson.D{{Key: "price", Value: bson.D{{Key: "$where", Value: "1"}}}})); err == nil {
		t.Error("an unknown operator compiles")
	}
}

func TestUpdatesApplyTheirOperators(t *testing.T) {
	old := doc(t, bson.D{{Key: "_id", Value: int64(1)}, {Key: "n", Value: int32(1)}, {Key: "gone", Value: "x"}})
	u := doc(t, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int32(2)}}}, {Key: "$set", Value: bson.D{{Key: "a.b", Value: "c"}}},
		{Key: "$unset", Value: bson.D{{Key: "gone", Value: ""}}}})
	next, err := ApplyUpdate(old, u, false)
	if err != nil {
		t.Fatal(err)
	}
	if v := next.Lookup("n"); v.AsInt64() != 3 {
		t.Errorf("$inc: n is %v", v)
	}
	if v := next.Lookup("a", "b"); v.StringValue() != "c" {
		t.Errorf("$set on a path: a.b is %v", v)
	}
	if v := next.Lookup("gone"); !Missing(v) {
		t.Errorf("$unset: gone is %v", v)
	}
	if _, err := ApplyUpdate(old, doc(t, bson.D{{Key: "$set", Value: bson.D{{Key: "_id", Value: int64(2)}}}}), false); err == nil {
		t.Error("$set may not change _id")
	}
	if !IsReplacement(doc(t, bson.D{{Key: "n", Value: 1}})) || IsReplacement(u) {
		t.Error("a replacement is a document without operators")
	}
}

func TestSortsAndProjections(t *testing.T) {
	keys, _, err := ParseSort(doc(t, bson.D{{Key: "price", Value: -1}}))
	if err != nil {
		t.Fatal(err)
	}
	docs := []bsoncore.Document{
		doc(t, bson.D{{Key: "_id", Value: 1}, {Key: "price", Value: 5}}),
		doc(t, bson.D{{Key: "_id", Value: 2}}), // missing sorts lowest
		doc(t, bson.D{{Key: "_id", Value: 3}, {Key: "price", Value: 7.5}}),
	}
	SortDocs(docs, keys)
	var order []int32
	for _, d := range docs {
		order = append(order, d.Lookup("_id").Int32())
	}
	if order[0] != 3 || order[1] != 1 || order[2] != 2 {
		t.Errorf("price descending gave %v", order)
	}
	p, err := ParseProjection(doc(t, bson.D{{Key: "price", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	out := p.Apply(docs[0])
	if _, err := out.LookupErr("_id"); err != nil || Missing(out.Lookup("price")) {
		t.Errorf("an inclusion keeps _id and the field: %v", out)
	}
	if p, _ := ParseProjection(doc(t, bson.D{{Key: "_id", Value: 1}})); !p.OnlyID() {
		t.Error("{_id: 1} keeps only the id")
	}
}
