package agent

import (
	"encoding/binary"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// Call flags, the first byte of a call body.
const (
	flagCheck        = 1 << iota // check mode
	flagSendData                 // the controller streams data with the call
	flagWantData                 // the controller reads a data stream back
	flagAfter                    // the call follows another: its id follows the name
	flagEvenIfFailed             // with flagAfter: run even when that call failed
)

// Result status, the first byte of a result body.
const (
	statusOK     = 0
	statusFailed = 1
)

// MaxBody bounds a call's or result's body (its arguments or its value).
// Decoding a body can allocate several times its size (a cty value per
// element), so this also bounds what a peer can make the other end hold.
// Larger data belongs in a data stream, which is flow-controlled.
const MaxBody = 256 << 20

// callHead encodes the part of a call body before the arguments: flags,
// the name, and with flagAfter the id of the call this one follows.
func callHead(name string, flags byte, after uint32) []byte {
	h := append([]byte{flags, byte(len(name))}, name...)
	if flags&flagAfter != 0 {
		h = binary.BigEndian.AppendUint32(h, after)
	}
	return h
}

// parseCall splits a call body into flags, name, the id of the call it
// follows (with flagAfter) and encoded arguments.
func parseCall(b []byte) (flags byte, name string, after uint32, args []byte, err error) {
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		return 0, "", 0, nil, fmt.Errorf("truncated call")
	}
	flags, n := b[0], int(b[1])
	name, rest := string(b[2:2+n]), b[2+n:]
	if flags&flagAfter != 0 {
		if len(rest) < 4 {
			return 0, "", 0, nil, fmt.Errorf("truncated call")
		}
		after, rest = binary.BigEndian.Uint32(rest), rest[4:]
	}
	return flags, name, after, rest, nil
}

// isErrorValue checks the shape of a failure's body: an object with
// string kind, message and detail, and a value of any type.
func isErrorValue(v cty.Value) bool {
	ty := v.Type()
	if v.IsNull() || !v.IsWhollyKnown() || !ty.IsObjectType() || len(ty.AttributeTypes()) != 4 || !ty.HasAttribute("value") {
		return false
	}
	for _, a := range []string{"kind", "message", "detail"} {
		if !ty.HasAttribute(a) || ty.AttributeType(a) != cty.String {
			return false
		}
	}
	return true
}

// encodeResult makes a result body from what a handler returned: its
// status byte and the encoded value's parts.
func encodeResult(v cty.Value, rerr *RemoteError) (byte, [][]byte, error) {
	if rerr == nil {
		parts, _, err := encodeValueParts(v)
		return statusOK, parts, err
	}
	ev := rerr.Value
	if ev == cty.NilVal {
		ev = cty.NullVal(cty.DynamicPseudoType)
	}
	obj := cty.ObjectVal(map[string]cty.Value{
		"kind":    cty.StringVal(rerr.Kind),
		"message": cty.StringVal(rerr.Message),
		"detail":  cty.StringVal(rerr.Detail),
		"value":   ev,
	})
	parts, _, err := encodeValueParts(obj)
	return statusFailed, parts, err
}

// decodeResult reads a result body, which it owns (large strings in the
// value share its memory), into a value or a *RemoteError.
func decodeResult(host, fn string, b []byte) (cty.Value, error) {
	if len(b) == 0 {
		return cty.NilVal, fmt.Errorf("empty result")
	}
	v, err := decodeOwned(b[1:])
	if err != nil {
		return cty.NilVal, err
	}
	switch b[0] {
	case statusOK:
		return v, nil
	case statusFailed:
		if !isErrorValue(v) {
			return cty.NilVal, fmt.Errorf("malformed error result of type %s", v.Type().FriendlyName())
		}
		re := &RemoteError{Host: host, Func: fn, Value: v.GetAttr("value")}
		for _, f := range []struct {
			dst  *string
			name string
		}{{&re.Kind, "kind"}, {&re.Message, "message"}, {&re.Detail, "detail"}} {
			if a := v.GetAttr(f.name); !a.IsNull() {
				*f.dst = a.AsString()
			}
		}
		if re.Value.IsNull() {
			re.Value = cty.NilVal
		}
		return cty.NilVal, re
	}
	return cty.NilVal, fmt.Errorf("unknown result status %d", b[0])
}
