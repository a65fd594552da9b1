package agent

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// maxValueDepth bounds the nesting of a decoded value. Deeper values are
// refused before decoding, so a hostile peer cannot exhaust the stack.
const maxValueDepth = 64

// EncodeValue encodes v with its type (cty's msgpack form of a dynamic
// value). A nil value encodes as null.
func EncodeValue(v cty.Value) ([]byte, error) {
	parts, size, err := encodeValueParts(v)
	if err != nil || len(parts) == 1 {
		return firstPart(parts), err
	}
	out := make([]byte, 0, size)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}

func firstPart(parts [][]byte) []byte {
	if len(parts) == 0 {
		return nil
	}
	return parts[0]
}

var (
	stringJSON = []byte(`"string"`)
	numberJSON = []byte(`"number"`)
	boolJSON   = []byte(`"bool"`)
	emptyJSON  = []byte(`["object",{}]`)
)

func typeJSON(ty cty.Type) ([]byte, error) {
	switch {
	case ty == cty.String:
		return stringJSON, nil
	case ty == cty.Number:
		return numberJSON, nil
	case ty == cty.Bool:
		return boolJSON, nil
	case ty.IsObjectType() && len(ty.AttributeTypes()) == 0:
		return emptyJSON, nil
	}
	encodedMu.Lock()
	for _, e := range encoded {
		if e.json != nil && e.ty.Equals(ty) {
			encodedMu.Unlock()
			return e.json, nil
		}
	}
	encodedMu.Unlock()
	b, err := ty.MarshalJSON()
	if err == nil && len(b) <= maxCachedTypeJSON {
		encodedMu.Lock()
		encoded[encodedNext] = encodedType{ty, b}
		encodedNext = (encodedNext + 1) % len(encoded)
		encodedMu.Unlock()
	}
	return b, err
}

// The JSON of the types encoded last. A run sends a few types over and
// over (each builtin's result, each task's arguments): comparing a type
// with those costs a tenth of writing its JSON again (0.3 against 3.8 µs
// for exec's result type), and allocates nothing. The JSON is shared and
// never modified.
type encodedType struct {
	ty   cty.Type
	json []byte
}

var (
	encodedMu   sync.Mutex
	encoded     [8]encodedType
	encodedNext int
)

// DecodeValue decodes bytes written by EncodeValue. It first checks that
// every length the bytes declare fits in the bytes themselves and that the
// nesting stays shallow, because the decoder allocates by declared length.
// The value shares no memory with b.
func DecodeValue(b []byte) (cty.Value, error) { return decodeValue(b, false) }

// A value is encoded as [type as JSON, value]. Parsing the type's JSON
// dominated the cost of a small call, and a run sends the same few types
// over and over, so parsed types are kept, up to maxCachedTypes.
const maxCachedTypes = 4096

var (
	typeCacheMu sync.RWMutex
	typeCache   = map[string]cty.Type{}
)

// parseType parses a type's JSON, from the cache when it was seen before.
// The JSON is bounded in size and nesting first: cty's parser rescans
// each level, so a deep type costs time out of proportion to its bytes.
func parseType(key []byte) (cty.Type, error) {
	typeCacheMu.RLock()
	ty, ok := typeCache[string(key)]
	typeCacheMu.RUnlock()
	if ok {
		return ty, nil
	}
	if len(key) > maxTypeJSON {
		return cty.NilType, fmt.Errorf("a type written in %d bytes (at most %d)", len(key), maxTypeJSON)
	}
	depth := 0
	for _, c := range key {
		switch c {
		case '[', '{':
			if depth++; depth > 2*maxValueDepth {
				return cty.NilType, fmt.Errorf("a type nested deeper than %d", maxValueDepth)
			}
		case ']', '}':
			depth--
		}
	}
	if err := ty.UnmarshalJSON(key); err != nil {
		return cty.NilType, err
	}
	if len(key) <= maxCachedTypeJSON {
		typeCacheMu.Lock()
		if len(typeCache) < maxCachedTypes {
			typeCache[string(key)] = ty
		}
		typeCacheMu.Unlock()
	}
	return ty, nil
}

// maxCachedTypeJSON bounds the types kept: the cache serves the few
// small types a run sends over and over, and lives as long as the process.
const maxCachedTypeJSON = 1 << 10

// checkMsgpack walks one msgpack object without decoding it and fails when
// a declared length exceeds the bytes that remain, when the nesting exceeds
// maxDepth, or when bytes are left over.
func checkMsgpack(b []byte, maxDepth int) error {
	// pending[i] counts the objects still to read at nesting level i.
	pending := make([]uint64, 1, 8)
	pending[0] = 1
	p := 0
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		if p >= len(b) {
			return fmt.Errorf("truncated at byte %d", p)
		}
		c := b[p]
		p++
		var skip, children uint64
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			children = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			children = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		default:
			n, width, kind, err := msgpackHeader(c, b[p:])
			if err != nil {
				return fmt.Errorf("at byte %d: %w", p-1, err)
			}
			p += width
			switch kind {
			case 's':
				skip = n
			case 'a':
				children = n
			case 'm':
				children = 2 * n
			}
		}
		rest := uint64(len(b) - p)
		if skip > rest || children > rest {
			return fmt.Errorf("length %d at byte %d exceeds the %d bytes left", max(skip, children), p, rest)
		}
		p += int(skip)
		if children > 0 {
			if len(pending) >= maxDepth {
				return fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			pending = append(pending, children)
		}
	}
	if p != len(b) {
		return fmt.Errorf("%d bytes after the value", len(b)-p)
	}
	return nil
}

// msgpackHeader decodes the length part of a msgpack type byte c: n is the
// payload length ('s': bytes to skip) or element count ('a' array, 'm' map),
// width the header bytes it consumed after c.
func msgpackHeader(c byte, b []byte) (n uint64, width int, kind byte, err error) {
	fixed := func(size int) (uint64, int, byte, error) { return uint64(size), 0, 's', nil }
	lenOf := func(w int, k byte, extra uint64) (uint64, int, byte, error) {
		if len(b) < w {
			return 0, 0, 0, fmt.Errorf("truncated length")
		}
		var v uint64
		switch w {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b))
		}
		return v + extra, w, k, nil
	}
	switch c {
	case 0xcc, 0xd0:
		return fixed(1)
	case 0xcd, 0xd1:
		return fixed(2)
	case 0xca, 0xce, 0xd2:
		return fixed(4)
	case 0xcb, 0xcf, 0xd3:
		return fixed(8)
	case 0xd4:
		return fixed(2)
	case 0xd5:
		return fixed(3)
	case 0xd6:
		return fixed(5)
	case 0xd7:
		return fixed(9)
	case 0xd8:
		return fixed(17)
	case 0xc4, 0xd9:
		return lenOf(1, 's', 0)
	case 0xc5, 0xda:
		return lenOf(2, 's', 0)
	case 0xc6, 0xdb:
		return lenOf(4, 's', 0)
	case 0xc7:
		return lenOf(1, 's', 1)
	case 0xc8:
		return lenOf(2, 's', 1)
	case 0xc9:
		return lenOf(4, 's', 1)
	case 0xdc:
		return lenOf(2, 'a', 0)
	case 0xdd:
		return lenOf(4, 'a', 0)
	case 0xde:
		return lenOf(2, 'm', 0)
	case 0xdf:
		return lenOf(4, 'm', 0)
	}
	return 0, 0, 0, fmt.Errorf("invalid msgpack type byte 0x%02x", c)
}
