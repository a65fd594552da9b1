package agent

import (
	"github.com/zclconf/go-cty/cty"
)

// Readers of a result's attributes. A result is data from a target, which
// may be wrong or hostile: these never panic, and a missing attribute, one
// of another type, a null or an unknown reads as absent (ok false).

// Attr returns v's attribute name when v is a known object that has it,
// known and not null.
func Attr(v cty.Value, name string) (cty.Value, bool) {
	if v == cty.NilVal {
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return cty.NilVal, false
	}
	return a, true
}

// AttrString reads a string attribute.
func AttrString(v cty.Value, name string) (string, bool) {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.String {
		return "", false
	}
	return a.AsString(), true
}

// AttrInt reads a number attribute as an int64 (truncated).
func AttrInt(v cty.Value, name string) (int64, bool) {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.Number {
		return 0, false
	}
	i, _ := a.AsBigFloat().Int64()
	return i, true
}

// AttrFloat reads a number attribute as a float64.
func AttrFloat(v cty.Value, name string) (float64, bool) {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.Number {
		return 0, false
	}
	f, _ := a.AsBigFloat().Float64()
	return f, true
}

// AttrBool reads a bool attribute.
func AttrBool(v cty.Value, name string) (bool, bool) {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.Bool {
		return false, false
	}
	return a.True(), true
}
