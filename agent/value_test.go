package agent

import (
	"bytes"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestValueRoundTrip(t *testing.T) {
	for _, v := range []cty.Value{
		cty.NullVal(cty.DynamicPseudoType),
		cty.StringVal("héllo"),
		cty.NumberIntVal(-42),
		cty.NumberFloatVal(3.25),
		cty.MustParseNumberVal("123456789012345678901234567890"),
		cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		cty.ListValEmpty(cty.String),
		cty.SetVal([]cty.Value{cty.True}),
		cty.MapVal(map[string]cty.Value{"k": cty.NumberIntVal(1)}),
		cty.ObjectVal(map[string]cty.Value{"o": cty.TupleVal([]cty.Value{cty.True, cty.StringVal("x")}), "n": cty.NullVal(cty.String)}),
	} {
		b, err := EncodeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if !got.RawEquals(v) {
			t.Fatalf("round trip of %#v gave %#v", v, got)
		}
	}
}

func TestSensitiveMarksDoNotCross(t *testing.T) {
	v := cty.StringVal("secret").Mark("sensitive")
	b, err := EncodeValue(cty.ObjectVal(map[string]cty.Value{"p": v}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeValue(b)
	if err != nil || got.ContainsMarked() {
		t.Fatalf("decoded %#v, %v", got, err)
	}
}

func TestCheckMsgpackRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":            {},
		"trailing bytes":   {0xc0, 0xc0},
		"string too long":  {0xd9, 200, 'a'},
		"map too long":     {0xdf, 0x10, 0, 0, 0},
		"reserved byte":    {0xc1},
		"truncated length": {0xdb, 0, 0},
	} {
		if err := checkMsgpack(b, maxValueDepth); err == nil {
			t.Errorf("%s: accepted % x", name, b)
		}
	}
}

// FuzzDecodeValue: no input panics, hangs or allocates without bound, and
// whatever decodes encodes to bytes that decode and encode to themselves.
func FuzzDecodeValue(f *testing.F) {
	for _, v := range []cty.Value{cty.StringVal("x"), cty.ObjectVal(map[string]cty.Value{"a": cty.ListVal([]cty.Value{cty.Zero})})} {
		b, _ := EncodeValue(v)
		f.Add(b)
	}
	f.Add([]byte{0x92, 0xa1, '"', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeValue(b)
		if err != nil {
			return
		}
		// Where cty's decoder reads the bytes too, it reads the same value.
		if ref, err := ctyDecode(b); err == nil && !ref.RawEquals(v) {
			t.Fatalf("decoded %#v, cty's decoder %#v", v, ref)
		}
		b2, err := EncodeValue(v)
		if err != nil {
			return // nothing that decodes should fail to encode, but the encoder is not what is tested
		}
		v2, err := DecodeValue(b2)
		if err != nil {
			t.Fatalf("re-decode of %#v: %v", v, err)
		}
		// Stable from then on. (Not equal to v in every case: a peer may
		// send a float32 that cty writes back as a decimal string of
		// float64 precision, which reads back as a slightly other number.)
		b3, err := EncodeValue(v2)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("encoding of %#v is not stable: % x then % x (%v)", v2, b2, b3, err)
		}
	})
}

// The JSON of recently encoded types is kept: types that differ only in
// an attribute's type, an element count or an optional attribute, more of
// them than are kept, each encode as themselves, every time.
func TestEncodedTypesAreNotConfused(t *testing.T) {
	var vals []cty.Value
	for i := range 12 {
		elems := make([]cty.Value, i+1)
		for k := range elems {
			elems[k] = cty.StringVal("x")
		}
		vals = append(vals,
			cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(int64(i)), "b": cty.TupleVal(elems)}),
			cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("s"), "b": cty.TupleVal(elems)}),
		)
	}
	for round := range 3 {
		for _, v := range vals {
			b, err := EncodeValue(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeValue(b)
			if err != nil || !got.RawEquals(v) {
				t.Fatalf("round %d: %#v came back as %#v (%v)", round, v, got, err)
			}
		}
	}
}
