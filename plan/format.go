package plan

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src, an HCL file, in canonical form: what `chopplan fmt`
// writes. Source with syntax errors is returned unchanged with the errors,
// since rewriting it could make it worse. Formatting formatted source
// changes nothing.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return src, diags
	}
	return hclwrite.Format(src), nil
}

// IsFormattable reports whether fmt rewrites files of this name: HCL plan
// files and HCL var files.
func IsFormattable(name string) bool {
	return hasSuffix(name, SuffixHCL) || hasSuffix(name, ".chopvars.hcl") || name == LockFileName
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
