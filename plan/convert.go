package plan

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// convertArg converts v to ty, reporting a mismatch against the
// expression's range in Terraform's words.
func convertArg(name string, v cty.Value, ty cty.Type, rng hcl.Range) (cty.Value, hcl.Diagnostics) {
	if ty == cty.NilType || ty == cty.DynamicPseudoType {
		return v, nil
	}
	out, err := convert.Convert(v, ty)
	if err != nil {
		return cty.UnknownVal(ty), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for argument %q: %s.", name, convertErrorText(err)),
			Subject:  rng.Ptr(),
		}}
	}
	return out, nil
}

func convertErrorText(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", pathText(pe.Path), pe.Error())
	}
	return err.Error()
}

// pathText writes a cty path as an HCL traversal: .attr["key"][0].
func pathText(p cty.Path) string {
	s := ""
	for _, step := range p {
		switch st := step.(type) {
		case cty.GetAttrStep:
			s += "." + st.Name
		case cty.IndexStep:
			if st.Key.Type() == cty.String {
				s += fmt.Sprintf("[%q]", st.Key.AsString())
			} else if st.Key.Type() == cty.Number {
				s += fmt.Sprintf("[%s]", st.Key.AsBigFloat().Text('f', -1))
			}
		}
	}
	if s != "" && s[0] == '.' {
		s = s[1:]
	}
	return s
}
