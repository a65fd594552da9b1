package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
		{Name: "nullable"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// reservedVariables are names the loader gives meaning to: "on" holds, in
// a module, the hosts its caller passed.
var reservedVariables = map[string]string{
	"on": "In a module, var.on holds the hosts the module block's on gives.",
}

func decodeVariable(in *instance, b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(variableSchema)
	v := &Variable{
		Name:      name,
		Module:    in.addr,
		Type:      cty.DynamicPseudoType,
		Nullable:  true,
		DeclRange: b.DefRange,
	}
	var defaults *typeexpr.Defaults
	if a := content.Attributes["type"]; a != nil {
		ty, d, tdiags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.Type, defaults = ty, d
		}
	}
	if a := content.Attributes["description"]; a != nil {
		diags = append(diags, literalString(a, &v.Description)...)
	}
	if a := content.Attributes["sensitive"]; a != nil {
		diags = append(diags, literalBool(a, &v.Sensitive)...)
	}
	if a := content.Attributes["nullable"]; a != nil {
		diags = append(diags, literalBool(a, &v.Nullable)...)
	}
	if a := content.Attributes["default"]; a != nil {
		val, d := constValue(a, cty.DynamicPseudoType)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if defaults != nil {
				val = defaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", convertErrorText(err)),
					Subject:  a.Expr.Range().Ptr(),
				})
				conv = cty.DynamicVal
			} else if conv.IsNull() && !v.Nullable {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   "A null default value is not valid when nullable = false.",
					Subject:  a.Expr.Range().Ptr(),
				})
			}
			v.Default = conv
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		if vc.Attributes["condition"] == nil || vc.Attributes["error_message"] == nil {
			continue
		}
		val := &Validation{
			Condition:    vc.Attributes["condition"].Expr,
			ErrorMessage: vc.Attributes["error_message"].Expr,
			DeclRange:    vb.DefRange,
		}
		valid := true
		for _, t := range val.Condition.Variables() {
			if t.RootName() != "var" {
				valid = false
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference in variable validation",
					Detail:   fmt.Sprintf("The condition for variable %q can only refer to the variable itself, as var.%s.", name, name),
					Subject:  t.SourceRange().Ptr(),
				})
			}
		}
		if valid {
			v.Validations = append(v.Validations, val)
		}
	}
	if why, ok := reservedVariables[name]; ok && in.addr != "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reserved variable name",
			Detail:   fmt.Sprintf("The name %q is reserved. %s", name, why),
			Subject:  b.LabelRanges[0].Ptr(),
		})
		return diags
	}
	if prev, ok := in.variables[name]; ok {
		return append(diags, duplicate("variable", name, prev.DeclRange, b.DefRange))
	}
	in.variables[name] = v
	in.varOrder = append(in.varOrder, v)
	v.defaults = defaults
	return diags
}

// rawValue is a variable value before conversion: a string from the
// command line or the environment, or an expression from a file or a
// module block.
type rawValue struct {
	str    *string
	expr   hcl.Expression
	ctx    *hcl.EvalContext // for a module block's expression
	value  cty.Value        // already evaluated (a module block's vars)
	rng    hcl.Range
	source string // "-var", "environment", a file name: for messages
}

// rootVariables gathers the root module's values from the environment,
// the automatic var files and -var/-var-file, in Terraform's order: a later
// source wins.
func (l *loader) rootVariables(in *instance) hcl.Diagnostics {
	var diags hcl.Diagnostics
	raw := map[string]rawValue{}

	for _, kv := range l.opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "CHOP_VAR_") {
			continue
		}
		name := strings.TrimPrefix(k, "CHOP_VAR_")
		if _, declared := in.variables[name]; !declared {
			continue // like Terraform: the environment may hold values for other plans
		}
		s := v
		raw[name] = rawValue{str: &s, rng: pseudoRange("<value for var." + name + " from CHOP_VAR_" + name + ">"), source: "environment"}
	}

	var files []string
	if !l.opts.NoAutoVarFiles {
		for _, n := range []string{"chopplan.chopvars.hcl", "chopplan.chopvars.json"} {
			if p := filepath.Join(in.dir, n); fileExists(p) {
				files = append(files, p)
			}
		}
		auto, _ := filepath.Glob(filepath.Join(in.dir, "*.auto.chopvars.hcl"))
		autoJSON, _ := filepath.Glob(filepath.Join(in.dir, "*.auto.chopvars.json"))
		auto = append(auto, autoJSON...)
		sort.Strings(auto)
		files = append(files, auto...)
	}
	for _, f := range files {
		diags = append(diags, l.readVarFile(in, f, raw, false)...)
	}
	for _, vv := range l.opts.Vars {
		if vv.File != "" {
			diags = append(diags, l.readVarFile(in, vv.File, raw, true)...)
			continue
		}
		if _, declared := in.variables[vv.Name]; !declared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("A variable named %q was assigned on the command line, but the plan does not declare it.%s",
					vv.Name, didYouMean(vv.Name, sortedKeys(in.variables))),
			})
			continue
		}
		s := vv.Value
		raw[vv.Name] = rawValue{str: &s, rng: pseudoRange("<value for var." + vv.Name + ">"), source: "-var"}
	}
	for _, v := range in.varOrder {
		r, given := raw[v.Name]
		diags = append(diags, assignVariable(v, r, given)...)
	}
	return diags
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func pseudoRange(name string) hcl.Range {
	return hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
}

func (l *loader) readVarFile(in *instance, path string, raw map[string]rawValue, explicit bool) hcl.Diagnostics {
	f, diags := l.parseFile(path)
	if f == nil || diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, a := range sortedAttrs(attrs) {
		if _, declared := in.variables[a.Name]; !declared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The file %s assigns a variable named %q, but the plan does not declare it.%s",
					path, a.Name, didYouMean(a.Name, sortedKeys(in.variables))),
				Subject: a.NameRange.Ptr(),
			})
			continue
		}
		raw[a.Name] = rawValue{expr: a.Expr, rng: a.Expr.Range(), source: path}
	}
	return diags
}

// assignVariable sets v.Value from its raw value or default, converting it
// to the type, checking nullability and marking it sensitive.
func assignVariable(v *Variable, r rawValue, given bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	val := cty.NilVal
	subject := v.DeclRange
	if given {
		subject = r.rng
		switch {
		case r.value != cty.NilVal:
			val = r.value
		case r.str != nil:
			// Like Terraform: a primitive (or untyped) variable takes the
			// string as it is; others parse it as an HCL expression.
			if v.Type.IsPrimitiveType() || v.Type == cty.DynamicPseudoType {
				val = cty.StringVal(*r.str)
			} else {
				expr, d := hclsyntax.ParseExpression([]byte(*r.str), r.rng.Filename, hcl.InitialPos)
				diags = append(diags, d...)
				if !d.HasErrors() {
					ev, d := expr.Value(nil)
					diags = append(diags, d...)
					val = ev
				}
			}
		default:
			ev, d := r.expr.Value(r.ctx)
			diags = append(diags, d...)
			val = ev
		}
		if diags.HasErrors() {
			v.Value = cty.UnknownVal(v.Type)
			return diags
		}
		if v.defaults != nil {
			val = v.defaults.Apply(val)
		}
	}
	if val == cty.NilVal || (val.IsNull() && v.Nullable == false && v.Default != cty.NilVal) {
		if v.Default == cty.NilVal {
			v.Value = cty.UnknownVal(v.Type)
			what := "The root module's"
			if v.Module != "" {
				what = fmt.Sprintf("The module block for %s does not set vars.%s and the module's", v.Module, v.Name)
			}
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("%s variable %q has no default value, so a value must be given (with -var, a var file, or CHOP_VAR_%s).",
					what, v.Name, v.Name),
				Subject: v.DeclRange.Ptr(),
			})
		}
		val = v.Default
	}
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		v.Value = cty.UnknownVal(v.Type)
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("The value given for variable %q is not compatible with its type constraint %s: %s.",
				v.Name, typeexpr.TypeString(v.Type), convertErrorText(err)),
			Subject: subject.Ptr(),
		})
	}
	if conv.IsNull() && !v.Nullable {
		v.Value = cty.UnknownVal(v.Type)
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The variable %q does not accept null (nullable = false).", v.Name),
			Subject:  subject.Ptr(),
		})
	}
	if v.Sensitive {
		conv = conv.Mark(Sensitive)
	}
	v.Value = conv
	if given && !strings.HasPrefix(r.rng.Filename, "<") {
		v.valueRange = r.rng
	}
	return diags
}

// validateVariable runs v's validation blocks.
func validateVariable(v *Variable, fns *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !v.Value.IsWhollyKnown() {
		return nil
	}
	ctx := fns.NewChild()
	ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: v.Value})}
	for _, val := range v.Validations {
		res, d := val.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		res, _ = res.Unmark()
		res, err := convert.Convert(res, cty.Bool)
		if err != nil || res.IsNull() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "The condition must be true or false.",
				Subject:  val.Condition.Range().Ptr(),
			})
			continue
		}
		if !res.IsKnown() || res.True() {
			continue
		}
		msg, d := val.ErrorMessage.Value(ctx)
		diags = append(diags, d...)
		text := "The value is not valid."
		if !d.HasErrors() {
			if m, err := convert.Convert(msg, cty.String); err == nil && m.IsKnown() && !m.IsNull() {
				if m.IsMarked() {
					text = "The error message refers to a sensitive value and is hidden."
				} else {
					text = m.AsString()
				}
			}
		}
		subject := v.valueRange
		if subject.Filename == "" {
			subject = val.Condition.Range()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", text, val.DeclRange),
			Subject:  subject.Ptr(),
		})
	}
	return diags
}
