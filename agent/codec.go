package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// The wire form of a value is cty's msgpack encoding of a dynamic value,
// [type as JSON, value]; cty's own decoder reads everything written here.
// This codec writes and reads that form itself, for three reasons: a
// large string crosses without being copied (the encoder points at it,
// and the decoder points into the received body it owns), no msgpack
// encoder or decoder is set up per call, and what a hostile peer sends
// is bounded before cty sees it (a NaN panics in math/big, a number of a
// billion digits or a set built to collide takes hours). Only wholly
// known values cross: an unknown means nothing to the other end.

// bigString is the size from which a string travels by reference: the
// encoder makes it a part of its own, and the decoder of an owned body
// returns a string that shares the body's memory. Smaller strings are
// copied, so a small string never keeps a large body alive.
const bigString = 64 << 10

// Bounds on what a peer may send, beyond checkMsgpack's lengths and
// depth: each keeps decoding (and later uses of the value) from taking
// time out of all proportion to the bytes received.
const (
	maxSetElements = 1024     // cty compares set elements that hash alike one by one
	maxNumberText  = 4096     // a number written out as a decimal string
	maxNumberExp   = 1 << 14  // binary exponent: beyond float64's range, not beyond reason
	maxTypeJSON    = 64 << 10 // a type's JSON
)

// errUnknown refuses a value that is not wholly known.
var errUnknown = errors.New("a value that is not known cannot cross the wire")

// encodeValueParts encodes v as EncodeValue does, as parts to be sent one
// after another: large strings are parts of their own, not copied.
func encodeValueParts(v cty.Value) ([][]byte, int, error) {
	if v == cty.NilVal {
		v = cty.NullVal(cty.DynamicPseudoType)
	}
	if v.ContainsMarked() {
		// Marks (sensitive) are a controller concept and never cross the wire.
		v, _ = v.UnmarkDeep()
	}
	e := valueEncoder{buf: make([]byte, 0, 256)}
	if err := e.value(v, cty.DynamicPseudoType); err != nil {
		return nil, 0, fmt.Errorf("agent: encoding value: %w", err)
	}
	e.cut()
	return e.parts, e.size, nil
}

// valueEncoder appends msgpack to buf; cut moves what buf holds since the
// last cut into parts. Appends after a cut never touch bytes already in
// parts: they write past the end of the part's slice or into a new array.
type valueEncoder struct {
	parts [][]byte
	buf   []byte
	mark  int
	size  int
}

func (e *valueEncoder) cut() {
	if len(e.buf) > e.mark {
		e.parts = append(e.parts, e.buf[e.mark:])
		e.size += len(e.buf) - e.mark
		e.mark = len(e.buf)
	}
}

func (e *valueEncoder) value(v cty.Value, ty cty.Type) error {
	if ty == cty.DynamicPseudoType && v.Type() != cty.DynamicPseudoType {
		tj, err := typeJSON(v.Type())
		if err != nil {
			return err
		}
		e.buf = append(e.buf, 0x92)
		e.buf = appendLen(e.buf, len(tj), 0, 0xc4, 0xc5, 0xc6)
		e.buf = append(e.buf, tj...)
		return e.value(v, v.Type())
	}
	if !v.IsKnown() {
		return errUnknown
	}
	if v.IsNull() {
		e.buf = append(e.buf, 0xc0)
		return nil
	}
	switch {
	case ty == cty.String:
		e.str(v.AsString())
	case ty == cty.Number:
		e.number(v)
	case ty == cty.Bool:
		if v.True() {
			e.buf = append(e.buf, 0xc3)
		} else {
			e.buf = append(e.buf, 0xc2)
		}
	case ty.IsListType(), ty.IsSetType():
		e.buf = appendLen(e.buf, v.LengthInt(), 0x90, 0, 0xdc, 0xdd)
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if err := e.value(ev, ty.ElementType()); err != nil {
				return err
			}
		}
	case ty.IsMapType():
		e.buf = appendLen(e.buf, v.LengthInt(), 0x80, 0, 0xde, 0xdf)
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			e.str(k.AsString())
			if err := e.value(ev, ty.ElementType()); err != nil {
				return err
			}
		}
	case ty.IsTupleType():
		etys := ty.TupleElementTypes()
		e.buf = appendLen(e.buf, len(etys), 0x90, 0, 0xdc, 0xdd)
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if err := e.value(ev, etys[i]); err != nil {
				return err
			}
		}
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		names := make([]string, 0, len(atys))
		for k := range atys {
			names = append(names, k)
		}
		slices.Sort(names)
		e.buf = appendLen(e.buf, len(names), 0x80, 0, 0xde, 0xdf)
		for _, k := range names {
			e.str(k)
			if err := e.value(v.GetAttr(k), atys[k]); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("cannot encode a value of type %s", ty.FriendlyName())
	}
	return nil
}

func (e *valueEncoder) str(s string) {
	e.buf = appendLen(e.buf, len(s), 0xa0, 0xd9, 0xda, 0xdb)
	if len(s) < bigString {
		e.buf = append(e.buf, s...)
		return
	}
	e.cut()
	e.parts = append(e.parts, unsafe.Slice(unsafe.StringData(s), len(s)))
	e.size += len(s)
}

// number writes n as cty does: an exact int64 as the smallest msgpack
// integer, an exact non-integer float64 as a double, anything else (very
// large or very precise) as its decimal string.
func (e *valueEncoder) number(v cty.Value) {
	bf := v.AsBigFloat()
	if bf.IsInf() {
		e.double(math.Inf(bf.Sign()))
		return
	}
	if iv, acc := bf.Int64(); acc == big.Exact {
		e.buf = appendInt(e.buf, iv)
		return
	}
	if fv, acc := bf.Float64(); acc == big.Exact && !bf.IsInt() {
		e.double(fv)
		return
	}
	e.str(bf.Text('f', -1))
}

func (e *valueEncoder) double(f float64) {
	e.buf = append(e.buf, 0xcb)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// appendLen appends a msgpack length header: fix (the fixed form's base
// code, 0 for none), then the 8-, 16- and 32-bit forms' codes (0: none).
func appendLen(b []byte, n int, fix, c8, c16, c32 byte) []byte {
	switch {
	case fix == 0xa0 && n < 32, (fix == 0x90 || fix == 0x80) && n < 16:
		return append(b, fix|byte(n))
	case c8 != 0 && n < 1<<8:
		return append(b, c8, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, c16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, c32), uint32(n))
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= math.MaxInt8, n < 0 && n >= -32:
		return append(b, byte(n))
	case n > 0 && n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n > 0 && n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n > 0 && n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	case n > 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// decodeOwned decodes a value from b, which the caller hands over: large
// strings in the result share b's memory, so b must not change afterwards.
func decodeOwned(b []byte) (cty.Value, error) { return decodeValue(b, true) }

func decodeValue(b []byte, owned bool) (v cty.Value, err error) {
	defer func() {
		// cty's constructors panic on what they cannot hold; whatever a
		// check above missed is a malformed value, not the end of the run.
		if p := recover(); p != nil {
			v, err = cty.NilVal, fmt.Errorf("agent: malformed value: %v", p)
		}
	}()
	if err := checkMsgpack(b, maxValueDepth); err != nil {
		return cty.NilVal, fmt.Errorf("agent: malformed value: %w", err)
	}
	d := valueDecoder{b: b, owned: owned}
	v, err = d.value(cty.DynamicPseudoType)
	if err != nil {
		return cty.NilVal, fmt.Errorf("agent: malformed value: %w", err)
	}
	if d.p != len(b) {
		return cty.NilVal, fmt.Errorf("agent: malformed value: %d bytes after the value", len(b)-d.p)
	}
	return v, nil
}

// valueDecoder reads what valueEncoder (or cty) wrote. checkMsgpack has
// already checked every length against the bytes left and the nesting,
// so reads here are bounded; they still check, as cheap insurance.
type valueDecoder struct {
	b     []byte
	p     int
	owned bool
}

var errTruncated = errors.New("truncated")

func (d *valueDecoder) next() (byte, error) {
	if d.p >= len(d.b) {
		return 0, errTruncated
	}
	c := d.b[d.p]
	d.p++
	return c, nil
}

func (d *valueDecoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.p) {
		return nil, errTruncated
	}
	s := d.b[d.p : d.p+int(n)]
	d.p += int(n)
	return s, nil
}

func (d *valueDecoder) uint(width int) (uint64, error) {
	s, err := d.take(uint64(width))
	if err != nil {
		return 0, err
	}
	switch width {
	case 1:
		return uint64(s[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(s)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(s)), nil
	}
	return binary.BigEndian.Uint64(s), nil
}

func isExt(c byte) bool { return (c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8) }

func (d *valueDecoder) value(ty cty.Type) (cty.Value, error) {
	if d.p >= len(d.b) {
		return cty.NilVal, errTruncated
	}
	c := d.b[d.p]
	if isExt(c) {
		return cty.NilVal, errUnknown
	}
	if c == 0xc0 {
		d.p++
		return cty.NullVal(ty), nil
	}
	switch {
	case ty == cty.DynamicPseudoType:
		if n, err := d.length(0x90, 0xdc, 0xdd); err != nil || n != 2 {
			return cty.NilVal, errors.New("a dynamic value is a [type, value] pair")
		}
		tj, err := d.raw()
		if err != nil {
			return cty.NilVal, err
		}
		vty, err := parseType(tj)
		if err != nil {
			return cty.NilVal, err
		}
		return d.value(vty)
	case ty == cty.String:
		s, err := d.str()
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(s), nil
	case ty == cty.Number:
		return d.number()
	case ty == cty.Bool:
		d.p++
		switch c {
		case 0xc3:
			return cty.True, nil
		case 0xc2:
			return cty.False, nil
		}
		return cty.NilVal, errors.New("a bool is required")
	case ty.IsListType(), ty.IsSetType():
		n, err := d.length(0x90, 0xdc, 0xdd)
		if err != nil {
			return cty.NilVal, err
		}
		ety := ty.ElementType()
		if n == 0 {
			if ty.IsListType() {
				return cty.ListValEmpty(ety), nil
			}
			return cty.SetValEmpty(ety), nil
		}
		if ty.IsSetType() && n > maxSetElements {
			return cty.NilVal, fmt.Errorf("a set of %d elements (at most %d cross the wire; a list has no limit)", n, maxSetElements)
		}
		vals := make([]cty.Value, n)
		for i := range vals {
			if vals[i], err = d.value(ety); err != nil {
				return cty.NilVal, err
			}
			if !vals[i].Type().Equals(ety) && !ety.Equals(cty.DynamicPseudoType) {
				return cty.NilVal, errors.New("a collection's elements must have its element type")
			}
		}
		if err := sameTypes(vals); err != nil {
			return cty.NilVal, err
		}
		if ty.IsListType() {
			return cty.ListVal(vals), nil
		}
		return cty.SetVal(vals), nil
	case ty.IsMapType():
		n, err := d.length(0x80, 0xde, 0xdf)
		if err != nil {
			return cty.NilVal, err
		}
		ety := ty.ElementType()
		if n == 0 {
			return cty.MapValEmpty(ety), nil
		}
		vals := make(map[string]cty.Value, n)
		for range n {
			k, err := d.str()
			if err != nil {
				return cty.NilVal, err
			}
			// cty normalises keys (NFC) and panics on two that become one.
			k = cty.NormalizeString(k)
			if _, dup := vals[k]; dup {
				return cty.NilVal, fmt.Errorf("map key %q given twice", k)
			}
			if vals[k], err = d.value(ety); err != nil {
				return cty.NilVal, err
			}
		}
		elems := make([]cty.Value, 0, n)
		for _, v := range vals {
			elems = append(elems, v)
		}
		if err := sameTypes(elems); err != nil {
			return cty.NilVal, err
		}
		return cty.MapVal(vals), nil
	case ty.IsTupleType():
		n, err := d.length(0x90, 0xdc, 0xdd)
		if err != nil {
			return cty.NilVal, err
		}
		etys := ty.TupleElementTypes()
		if n == 0 && len(etys) == 0 {
			return cty.EmptyTupleVal, nil
		}
		if n != len(etys) {
			return cty.NilVal, fmt.Errorf("a tuple of %d elements is required", len(etys))
		}
		vals := make([]cty.Value, n)
		for i, ety := range etys {
			if vals[i], err = d.value(ety); err != nil {
				return cty.NilVal, err
			}
		}
		return cty.TupleVal(vals), nil
	case ty.IsObjectType():
		n, err := d.length(0x80, 0xde, 0xdf)
		if err != nil {
			return cty.NilVal, err
		}
		atys := ty.AttributeTypes()
		if n == 0 && len(atys) == 0 {
			return cty.EmptyObjectVal, nil
		}
		if n != len(atys) {
			return cty.NilVal, fmt.Errorf("an object of %d attributes is required", len(atys))
		}
		vals := make(map[string]cty.Value, n)
		for range n {
			k, err := d.str()
			if err != nil {
				return cty.NilVal, err
			}
			aty, ok := atys[k]
			if !ok {
				return cty.NilVal, fmt.Errorf("unexpected attribute %q", k)
			}
			if _, dup := vals[k]; dup {
				return cty.NilVal, fmt.Errorf("attribute %q given twice", k)
			}
			if vals[k], err = d.value(aty); err != nil {
				return cty.NilVal, err
			}
		}
		return cty.ObjectVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("cannot decode a value of type %s", ty.FriendlyName())
}

// sameTypes checks what cty.ListVal, SetVal and MapVal would panic on:
// elements of differing types (possible under a dynamic element type).
func sameTypes(vals []cty.Value) error {
	for _, v := range vals[1:] {
		if !v.Type().Equals(vals[0].Type()) {
			return errors.New("a collection's elements must all have one type")
		}
	}
	return nil
}

// length reads an array or map header: fix is the fixed form's base code,
// c16 and c32 the 16- and 32-bit forms'.
func (d *valueDecoder) length(fix, c16, c32 byte) (int, error) {
	c, err := d.next()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == fix:
		n = uint64(c & 0x0f)
	case c == c16:
		n, err = d.uint(2)
	case c == c32:
		n, err = d.uint(4)
	default:
		return 0, fmt.Errorf("unexpected msgpack code 0x%02x", c)
	}
	if n > uint64(len(d.b)-d.p) { // every element takes a byte at least
		return 0, errTruncated
	}
	return int(n), err
}

// raw reads a str or bin payload.
func (d *valueDecoder) raw() ([]byte, error) {
	c, err := d.next()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.uint(1)
	case c == 0xda || c == 0xc5:
		n, err = d.uint(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.uint(4)
	default:
		return nil, fmt.Errorf("a string is required, not msgpack code 0x%02x", c)
	}
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

func (d *valueDecoder) str() (string, error) {
	s, err := d.raw()
	if err != nil {
		return "", err
	}
	if d.owned && len(s) >= bigString {
		return unsafe.String(unsafe.SliceData(s), len(s)), nil
	}
	return string(s), nil
}

func (d *valueDecoder) number() (cty.Value, error) {
	c := d.b[d.p]
	switch {
	case c <= 0x7f:
		d.p++
		return cty.NumberIntVal(int64(c)), nil
	case c >= 0xe0:
		d.p++
		return cty.NumberIntVal(int64(int8(c))), nil
	case c >= 0xcc && c <= 0xcf:
		d.p++
		n, err := d.uint(1 << (c - 0xcc))
		return cty.NumberUIntVal(n), err
	case c >= 0xd0 && c <= 0xd3:
		d.p++
		width := 1 << (c - 0xd0)
		n, err := d.uint(width)
		shift := 64 - 8*width // sign-extend
		return cty.NumberIntVal(int64(n<<shift) >> shift), err
	case c == 0xca || c == 0xcb:
		d.p++
		var f float64
		if c == 0xca {
			n, err := d.uint(4)
			if err != nil {
				return cty.NilVal, err
			}
			f = float64(math.Float32frombits(uint32(n)))
		} else {
			n, err := d.uint(8)
			if err != nil {
				return cty.NilVal, err
			}
			f = math.Float64frombits(n)
		}
		if math.IsNaN(f) {
			return cty.NilVal, errors.New("a number cannot be NaN")
		}
		return cty.NumberFloatVal(f), nil
	}
	s, err := d.str()
	if err != nil {
		return cty.NilVal, fmt.Errorf("a number is required: %w", err)
	}
	// Parsing is quadratic in the digits, and a huge exponent makes every
	// later use of the number (printing it, hashing it into a set) hang.
	if len(s) > maxNumberText {
		return cty.NilVal, fmt.Errorf("a number written in %d characters (at most %d)", len(s), maxNumberText)
	}
	v, err := cty.ParseNumberVal(s)
	if err != nil {
		return cty.NilVal, err
	}
	if e := v.AsBigFloat().MantExp(nil); e > maxNumberExp || e < -maxNumberExp {
		return cty.NilVal, fmt.Errorf("a number with a binary exponent of %d (at most ±%d)", e, maxNumberExp)
	}
	return v, nil
}
