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
func IsSensitive(v cty.Value) bool { return anyMarked(v, true) }

// Marked reports whether v or anything inside it carries a mark: cty's
// ContainsMarked, without building a path for every element (a run asks
// it of every task's arguments and results).
func Marked(v cty.Value) bool { return anyMarked(v, false) }

// anyMarked walks v for a mark: Sensitive only, or any.
func anyMarked(v cty.Value, sensitiveOnly bool) bool {
	if v.IsMarked() {
		if !sensitiveOnly || v.HasMark(Sensitive) {
			return true
		}
		v, _ = v.Unmark()
	}
	if !v.IsKnown() {
		// An unknown value may carry marks for its future contents, which
		// only cty's own walk sees: rare, so it is asked.
		if sensitiveOnly {
			_, pvm := v.UnmarkDeepWithPaths()
			for _, pm := range pvm {
				if _, ok := pm.Marks[Sensitive]; ok {
					return true
				}
			}
			return false
		}
		return v.ContainsMarked()
	}
	if v.IsNull() {
		return false
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		for name := range ty.AttributeTypes() {
			if anyMarked(v.GetAttr(name), sensitiveOnly) {
				return true
			}
		}
	case ty.IsCollectionType() || ty.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element() // keys are never marked
			if anyMarked(ev, sensitiveOnly) {
				return true
			}
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
	if !Marked(v) {
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
