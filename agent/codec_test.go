package agent

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

// codecValues covers every kind of value the codec writes itself.
func codecValues() []cty.Value {
	big1, _ := new(big.Float).SetString("123456789012345678901234567890.5")
	nums := []cty.Value{cty.Zero, cty.NumberIntVal(1), cty.NumberIntVal(127), cty.NumberIntVal(128),
		cty.NumberIntVal(255), cty.NumberIntVal(256), cty.NumberIntVal(65535), cty.NumberIntVal(65536),
		cty.NumberIntVal(math.MaxUint32), cty.NumberIntVal(math.MaxUint32 + 1), cty.NumberIntVal(math.MaxInt64),
		cty.NumberIntVal(-1), cty.NumberIntVal(-32), cty.NumberIntVal(-33), cty.NumberIntVal(-128),
		cty.NumberIntVal(-129), cty.NumberIntVal(-32768), cty.NumberIntVal(-32769), cty.NumberIntVal(math.MinInt32),
		cty.NumberIntVal(math.MinInt32 - 1), cty.NumberIntVal(math.MinInt64), cty.NumberUIntVal(math.MaxUint64),
		cty.NumberFloatVal(0.5), cty.NumberFloatVal(-1e300), cty.NumberVal(big1),
		cty.PositiveInfinity, cty.NegativeInfinity}
	strs := []cty.Value{cty.StringVal(""), cty.StringVal("x"), cty.StringVal(strings.Repeat("a", 31)),
		cty.StringVal(strings.Repeat("b", 32)), cty.StringVal(strings.Repeat("c", 255)),
		cty.StringVal(strings.Repeat("d", 256)), cty.StringVal(strings.Repeat("e", 65535)),
		cty.StringVal(strings.Repeat("f", 65536)), cty.StringVal(strings.Repeat("g", bigString+7)),
		cty.StringVal("naïve ☃")}
	vals := append(append([]cty.Value{cty.True, cty.False, cty.NullVal(cty.DynamicPseudoType),
		cty.NullVal(cty.String), cty.EmptyObjectVal, cty.EmptyTupleVal,
		cty.ListValEmpty(cty.String), cty.SetValEmpty(cty.Number), cty.MapValEmpty(cty.Bool)}, nums...), strs...)
	many := make([]cty.Value, 70000)
	for i := range many {
		many[i] = cty.NumberIntVal(int64(i))
	}
	attrs := map[string]cty.Value{}
	for i := range 20 {
		attrs[strings.Repeat("k", i+1)] = cty.StringVal(strings.Repeat("v", i))
	}
	vals = append(vals,
		cty.ListVal(nums), cty.ListVal(strs), cty.SetVal(nums), cty.ListVal(many),
		cty.MapVal(map[string]cty.Value{"a": cty.True, "b": cty.NullVal(cty.Bool)}),
		cty.TupleVal([]cty.Value{cty.StringVal("x"), cty.Zero, cty.NullVal(cty.DynamicPseudoType), cty.ListValEmpty(cty.Bool)}),
		cty.ObjectVal(attrs),
		cty.ObjectVal(map[string]cty.Value{
			"rc": cty.Zero, "stdout": strs[8], "stderr": cty.StringVal(""),
			"nested": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": cty.MapValEmpty(cty.String), "b": cty.NullVal(cty.DynamicPseudoType)})}),
		}),
	)
	return vals
}

// ctyEncoding is the form cty itself writes, [type as JSON, value].
func ctyEncoding(t *testing.T, v cty.Value) []byte {
	t.Helper()
	ty := v.Type()
	if ty == cty.DynamicPseudoType {
		b, err := ctymsgpack.Marshal(v, ty)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tj, _ := ty.MarshalJSON()
	body, err := ctymsgpack.Marshal(v, ty)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{0x92}, appendLen(nil, len(tj), 0, 0xc4, 0xc5, 0xc6)...)
	return append(append(out, tj...), body...)
}

func TestCodecMatchesCty(t *testing.T) {
	for _, v := range codecValues() {
		want := ctyEncoding(t, v)
		got, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding of %s differs from cty's:\n got % x\nwant % x", v.GoString()[:min(80, len(v.GoString()))], got[:min(64, len(got))], want[:min(64, len(want))])
		}
		// cty's decoder is the reference (it reads a decimal string back
		// at its own precision, so that is not always v itself).
		ref, err := ctyDecode(want)
		if err != nil {
			t.Fatal(err)
		}
		for _, owned := range []bool{false, true} {
			back, err := decodeValue(append([]byte(nil), want...), owned)
			if err != nil {
				t.Fatalf("decode of %#v: %v", v, err)
			}
			if !back.RawEquals(ref) {
				t.Fatalf("decoded %#v, want %#v", back, ref)
			}
		}
	}
}

// A large string travels as a part of its own and comes back sharing the
// body it was decoded from, when that body is owned.
func TestCodecLargeStringsByReference(t *testing.T) {
	s := strings.Repeat("z", bigString)
	v := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal(s), "b": cty.StringVal("small")})
	parts, size, err := encodeValueParts(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 || unsafe.SliceData(parts[1]) != unsafe.StringData(s) {
		t.Fatalf("want 3 parts with the string by itself, not copied; got %d parts", len(parts))
	}
	body, _ := EncodeValue(v)
	if len(body) != size {
		t.Fatalf("size %d, joined %d", size, len(body))
	}
	at := bytes.Index(body, []byte(s))
	back, err := decodeOwned(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.GetAttr("a").AsString(); got != s || unsafe.StringData(got) != &body[at] {
		t.Fatal("the large string was copied out of the owned body")
	}
	copied, _ := DecodeValue(body)
	if unsafe.StringData(copied.GetAttr("a").AsString()) == &body[at] {
		t.Fatal("DecodeValue shares memory with its input")
	}
}

// ctyDecode reads a value the way cty's own decoder does, as a reference.
// cty panics on some malformed input; that is an error here.
func ctyDecode(b []byte) (v cty.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = cty.NilVal, fmt.Errorf("cty panicked: %v", p)
		}
	}()
	if len(b) > 3 && b[0] == 0x92 && b[1] == 0xc4 && int(b[2])+3 <= len(b) {
		var ty cty.Type
		if err := ty.UnmarshalJSON(b[3 : 3+int(b[2])]); err != nil {
			return cty.NilVal, err
		}
		return ctymsgpack.Unmarshal(b[3+int(b[2]):], ty)
	}
	return ctymsgpack.Unmarshal(b, cty.DynamicPseudoType)
}

// typed is a value's bytes: its type's JSON, then body.
func typed(typeJSON string, body ...byte) []byte {
	return append(append([]byte{0x92, 0xc4, byte(len(typeJSON))}, typeJSON...), body...)
}

// Hostile input the codec must refuse, neither panicking nor taking time
// out of proportion to the bytes.
func TestCodecRefusesMalformed(t *testing.T) {
	numberString := func(s string) []byte { return append(typed(`"number"`, 0xd9, byte(len(s))), s...) }
	longDigits := strings.Repeat("9", maxNumberText+1)
	setOf := func(n int) []byte {
		b := appendLen(typed(`["set","number"]`), n, 0x90, 0, 0xdc, 0xdd)
		for i := range n {
			b = appendInt(b, int64(i))
		}
		return b
	}
	deepType := strings.Repeat(`["list",`, maxValueDepth*2+1) + `"bool"` + strings.Repeat(`]`, maxValueDepth*2+1)
	cases := map[string][]byte{
		"NaN double":          typed(`"number"`, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1),
		"NaN float":           typed(`"number"`, 0xca, 0x7f, 0xc0, 0, 0),
		"bool as number":      typed(`"number"`, 0xc3),
		"huge exponent":       numberString("1e600000000"),
		"tiny exponent":       numberString("1e-600000000"),
		"mixed list":          typed(`["list","dynamic"]`, 0x92, 0x92, 0xc4, 8, '"', 's', 't', 'r', 'i', 'n', 'g', '"', 0xa1, 'x', 0x92, 0xc4, 6, '"', 'b', 'o', 'o', 'l', '"', 0xc3),
		"duplicate attribute": typed(`["object",{"a":"bool","b":"bool"}]`, 0x82, 0xa1, 'a', 0xc3, 0xa1, 'a', 0xc2),
		"NFC-equal map keys":  typed(`["map","bool"]`, 0x82, 0xa2, 0xc3, 0xa9, 0xc3, 0xa3, 'e', 0xcc, 0x81, 0xc2),
		"short tuple":         typed(`["tuple",["bool","bool"]]`, 0x91, 0xc3),
		"unknown value":       typed(`"string"`, 0xd4, 0, 0),
		"too large a set":     setOf(maxSetElements + 1),
		"trailing bytes":      {0xc0, 0xc0},
	}
	cases["too many digits"] = append(typed(`"number"`, 0xda, byte(len(longDigits)>>8), byte(len(longDigits))), longDigits...)
	deep := append([]byte{0x92, 0xc5, byte(len(deepType) >> 8), byte(len(deepType))}, deepType...)
	cases["too deep a type"] = append(deep, 0xc0)
	for name, b := range cases {
		v, err := DecodeValue(b)
		if err == nil {
			t.Errorf("%s: decoded %#v, want an error", name, v)
		}
		t.Logf("%s: %v", name, err)
	}
	// The well-formed twins of some of those decode.
	for name, b := range map[string][]byte{
		"a large exponent within bounds": numberString("1e4000"),
		"attributes a and b":             typed(`["object",{"a":"bool","b":"bool"}]`, 0x82, 0xa1, 'a', 0xc3, 0xa1, 'b', 0xc2),
		"a set at the limit":             setOf(maxSetElements),
	} {
		if _, err := DecodeValue(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncodeValue(cty.ObjectVal(map[string]cty.Value{"a": cty.UnknownVal(cty.String)})); err == nil {
		t.Error("an unknown value was encoded")
	}
}
