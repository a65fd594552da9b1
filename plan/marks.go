package plan

import (
	"github.com/zclconf/go-cty/cty"
)

type valueMark string

// Sensitive is the cty mark carried by sensitive values: variables and
// outputs declared sensitive, sensitive tunnel and builtin arguments, and
// the results of tasks marked sensitive. Functions and operators keep the
// mark on everything derived from a marked value, so masking follows the
// data wherever it flows.
const Sensitive = valueMark("sensitive")

// IsSensitive reports whether v or anything inside it is marked sensitive.
func IsSensitive(v cty.Value) bool {
	if v.HasMark(Sensitive) {
		return true
	}
	if !v.ContainsMarked() {
		return false
	}
	_, pvm := v.UnmarkDeepWithPaths()
	for _, p := range pvm {
		if _, ok := p.Marks[Sensitive]; ok {
			return true
		}
	}
	return false
}

// Redacted is what a sensitive value shows as.
const Redacted = "(sensitive value)"

// Redact returns v with every sensitive part replaced by the string
// Redacted and all marks removed: what may be printed, logged or journaled.
// Collections holding a redacted part become tuples or objects, since the
// replacement need not have the element type.
func Redact(v cty.Value) cty.Value {
	if !v.ContainsMarked() {
		return v
	}
	if v.HasMark(Sensitive) {
		return cty.StringVal(Redacted)
	}
	v, _ = v.Unmark()
	ty := v.Type()
	switch {
	case v.IsNull() || !v.IsKnown():
		v, _ = v.UnmarkDeep()
		return v
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		elems := make([]cty.Value, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			elems = append(elems, Redact(ev))
		}
		return cty.TupleVal(elems)
	case ty.IsMapType() || ty.IsObjectType():
		attrs := make(map[string]cty.Value, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			attrs[k.AsString()] = Redact(ev)
		}
		return cty.ObjectVal(attrs)
	}
	return v
}
