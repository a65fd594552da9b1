package agent

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// Call flags, the first byte of a call body.
const (
	flagCheck    = 1 << iota // check mode
	flagSendData             // the controller streams data with the call
	flagWantData             // the controller reads a data stream back
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

// callHead encodes the part of a call body before the arguments.
func callHead(name string, flags byte) []byte {
	return append([]byte{flags, byte(len(name))}, name...)
}

// parseCall splits a call body into flags, name and encoded arguments.
func parseCall(b []byte) (flags byte, name string, args []byte, err error) {
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		return 0, "", nil, fmt.Errorf("truncated call")
	}
	n := int(b[1])
	return b[0], string(b[2 : 2+n]), b[2+n:], nil
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
