package plan

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// Marked and IsSensitive agree with cty's own deep walks, for marks at
// every depth and in every kind of container.
func TestMarkWalksAgreeWithCty(t *testing.T) {
	other := valueMark("other")
	s := cty.StringVal("secret").Mark(Sensitive)
	o := cty.StringVal("plain").Mark(other)
	p := cty.StringVal("plain")
	for _, v := range []cty.Value{
		p, s, o,
		cty.NullVal(cty.String).Mark(Sensitive),
		cty.UnknownVal(cty.String).Mark(other),
		cty.ListVal([]cty.Value{p, p}),
		cty.ListVal([]cty.Value{p, s}),
		cty.ListVal([]cty.Value{p, o}),
		cty.SetVal([]cty.Value{p, s}),
		cty.TupleVal([]cty.Value{p, cty.True, o}),
		cty.MapVal(map[string]cty.Value{"a": p, "b": s}),
		cty.ObjectVal(map[string]cty.Value{"a": p, "b": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"c": s})})}),
		cty.ObjectVal(map[string]cty.Value{"a": p, "b": cty.TupleVal([]cty.Value{o})}).Mark(other),
		cty.ObjectVal(map[string]cty.Value{"a": p}).Mark(Sensitive),
		cty.ObjectVal(map[string]cty.Value{"a": cty.MapVal(map[string]cty.Value{"k": p})}),
		cty.EmptyObjectVal,
		cty.UnknownValWithNestedMarks(cty.List(cty.String), func(yield func(any) bool) { yield(Sensitive) }),
	} {
		if got, want := Marked(v), v.ContainsMarked(); got != want {
			t.Errorf("Marked(%#v) = %v, cty says %v", v, got, want)
		}
		want := v.HasMark(Sensitive)
		_, pvm := v.UnmarkDeepWithPaths()
		for _, pm := range pvm {
			if _, ok := pm.Marks[Sensitive]; ok {
				want = true
			}
		}
		if got := IsSensitive(v); got != want {
			t.Errorf("IsSensitive(%#v) = %v, want %v", v, got, want)
		}
	}
}
