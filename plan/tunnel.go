package plan

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// tunnelDecl is a tunnel block before expansion.
type tunnelDecl struct {
	kind, name string
	spec       FunctionSpec
	known      bool // the kind exists
	forEach    hcl.Expression
	count      hcl.Expression
	via        hcl.Expression
	body       hcl.Body // the kind's arguments
	declRange  hcl.Range
	typeRange  hcl.Range

	instances []*Tunnel
	viaAddrs  map[*Tunnel]string
}

var tunnelMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "for_each"}, {Name: "count"}, {Name: "via"}},
}

func (l *loader) decodeTunnel(in *instance, b *hcl.Block) hcl.Diagnostics {
	kind, name := b.Labels[0], b.Labels[1]
	d := &tunnelDecl{kind: kind, name: name, declRange: b.DefRange, typeRange: b.LabelRanges[0]}
	content, rest, diags := b.Body.PartialContent(tunnelMetaSchema)
	d.body = rest
	if a := content.Attributes["for_each"]; a != nil {
		d.forEach = a.Expr
	}
	if a := content.Attributes["count"]; a != nil {
		d.count = a.Expr
	}
	if a := content.Attributes["via"]; a != nil {
		d.via = a.Expr
	}
	if d.forEach != nil && d.count != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid combination of count and for_each",
			Detail:   "A tunnel block may set count or for_each, not both.",
			Subject:  d.count.Range().Ptr(),
		})
	}
	d.spec, d.known = l.opts.Schemas.TunnelKind(kind)
	if !d.known {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported tunnel kind",
			Detail: fmt.Sprintf("There is no tunnel kind %q.%s The kinds are: %s.",
				kind, didYouMean(kind, l.opts.Schemas.TunnelKinds()), strings.Join(l.opts.Schemas.TunnelKinds(), ", ")),
			Subject: b.LabelRanges[0].Ptr(),
		})
	}
	key := kind + "." + name
	if prev, ok := in.tunnels[key]; ok {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate tunnel",
			Detail:   fmt.Sprintf("A tunnel %q %q was already declared at %s. Names must be unique for each kind.", kind, name, prev.declRange),
			Subject:  b.DefRange.Ptr(),
		})
	}
	in.tunnels[key] = d
	in.tunOrder = append(in.tunOrder, d)
	return diags
}

// argsSpec is the hcldec spec of a function's arguments: hcldec reports
// unsupported and missing arguments (with a did-you-mean) and wrong types.
func argsSpec(fs FunctionSpec, skip map[string]bool) hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	for _, a := range fs.Args {
		if skip[a.Name] {
			continue
		}
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		var s hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
		if a.Default != cty.NilVal && !a.Required {
			s = &hcldec.DefaultSpec{Primary: s, Default: &hcldec.LiteralSpec{Value: a.Default}}
		}
		spec[a.Name] = s
	}
	return spec
}

// traversals lists every reference a tunnel block makes.
func (d *tunnelDecl) traversals() []hcl.Traversal {
	var ts []hcl.Traversal
	for _, e := range []hcl.Expression{d.forEach, d.count, d.via} {
		if e != nil {
			ts = append(ts, e.Variables()...)
		}
	}
	if d.known {
		ts = append(ts, hcldec.Variables(d.body, argsSpec(d.spec, nil))...)
	} else if attrs, diags := d.body.JustAttributes(); !diags.HasErrors() {
		for _, a := range attrs {
			ts = append(ts, a.Expr.Variables()...)
		}
	}
	return ts
}

// expansion is one instance a for_each or count block makes.
type expansion struct {
	key   cty.Value // NilVal for a single instance
	value cty.Value // each.value
}

// evalForEach evaluates a for_each expression that must be known when the
// plan is loaded: a map, an object or a set of strings.
func evalForEach(expr hcl.Expression, ctx *hcl.EvalContext, what string) ([]expansion, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(detail string) ([]expansion, hcl.Diagnostics) {
		return nil, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Invalid for_each argument",
			Detail:      detail,
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		})
	}
	if IsSensitive(v) {
		return bad(fmt.Sprintf("Sensitive values cannot be used in the for_each of %s: the instance keys are shown in every output.", what))
	}
	if !v.IsWhollyKnown() {
		return bad(fmt.Sprintf("The for_each of %s must be known when the plan is loaded.", what))
	}
	if v.IsNull() {
		return bad("The for_each argument cannot be null.")
	}
	v, _ = v.Unmark()
	ty := v.Type()
	var out []expansion
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out = append(out, expansion{key: k, value: ev})
		}
	case ty.IsSetType():
		if !ty.ElementType().Equals(cty.String) {
			return bad(fmt.Sprintf("for_each takes a map, or a set of strings; this is a set of %s.", ty.ElementType().FriendlyName()))
		}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() {
				return bad("for_each sets cannot hold null.")
			}
			out = append(out, expansion{key: ev, value: ev})
		}
	case ty.IsListType() || ty.IsTupleType():
		return bad(fmt.Sprintf("for_each takes a map, or a set of strings; this is a %s. Convert it with toset() to use its elements as keys.", ty.FriendlyName()))
	default:
		return bad(fmt.Sprintf("for_each takes a map, or a set of strings; this is a %s.", ty.FriendlyName()))
	}
	return out, diags
}

// evalCount evaluates a count expression.
func evalCount(expr hcl.Expression, ctx *hcl.EvalContext) (int, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	bad := func(detail string) (int, hcl.Diagnostics) {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid count argument", Detail: detail, Subject: expr.Range().Ptr(),
		})
	}
	if v.HasMark(Sensitive) {
		return bad("Sensitive values cannot be used as count.")
	}
	v, _ = v.Unmark()
	if !v.IsKnown() {
		return bad("count must be known when the plan is loaded.")
	}
	n, err := convertArg("count", v, cty.Number, expr.Range())
	if err != nil || n.IsNull() {
		return bad("count must be a whole number.")
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < 0 || i > 100000 {
		return bad("count must be a whole number from 0 to 100000.")
	}
	return int(i), diags
}

// evalTunnel expands and evaluates a tunnel block in its module's static
// context, and returns the value references to it see: the instance's
// address, a list of them (count) or a map of them by key (for_each).
func (in *instance) evalTunnel(d *tunnelDecl, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	base := fmt.Sprintf("%stunnel.%s.%s", in.prefix(), d.kind, d.name)
	var exps []expansion
	mode := "single"
	switch {
	case d.forEach != nil:
		mode = "for_each"
		var dd hcl.Diagnostics
		exps, dd = evalForEach(d.forEach, ctx, fmt.Sprintf("tunnel %q %q", d.kind, d.name))
		diags = append(diags, dd...)
		if dd.HasErrors() {
			return cty.DynamicVal, diags
		}
	case d.count != nil:
		mode = "count"
		n, dd := evalCount(d.count, ctx)
		diags = append(diags, dd...)
		if dd.HasErrors() {
			return cty.DynamicVal, diags
		}
		for i := 0; i < n; i++ {
			exps = append(exps, expansion{key: cty.NumberIntVal(int64(i))})
		}
	default:
		exps = []expansion{{}}
	}
	spec := argsSpec(d.spec, nil)
	d.viaAddrs = map[*Tunnel]string{}
	byKey := map[string]cty.Value{}
	var list []cty.Value
	for _, e := range exps {
		t := &Tunnel{Addr: base, Kind: d.kind, Name: d.name, Key: e.key, Module: in.addr, DeclRange: d.declRange}
		ictx := ctx
		switch mode {
		case "for_each":
			k := e.key.AsString()
			t.Addr = fmt.Sprintf("%s[%q]", base, k)
			t.Name = k
			ictx = ctx.NewChild()
			ictx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": e.key, "value": e.value})}
		case "count":
			i, _ := e.key.AsBigFloat().Int64()
			t.Addr = fmt.Sprintf("%s[%d]", base, i)
			t.Name = fmt.Sprintf("%s-%d", d.name, i)
			ictx = ctx.NewChild()
			ictx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": e.key})}
		}
		if d.known {
			args, dd := hcldec.Decode(d.body, spec, ictx)
			diags = append(diags, dd...)
			t.Args = markSensitiveArgs(args, d.spec)
			if !args.IsWhollyKnown() && !dd.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Tunnel arguments not known",
					Detail:   "A tunnel's arguments must be known when the plan is loaded.",
					Subject:  d.declRange.Ptr(),
				})
			}
		}
		if d.via != nil {
			v, dd := d.via.Value(ictx)
			diags = append(diags, dd...)
			if !dd.HasErrors() {
				addr, ok := singleAddress(v)
				if !ok {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid via",
						Detail:   "via must refer to one tunnel instance, as tunnel.KIND.NAME (with [KEY] when it has for_each or count).",
						Subject:  d.via.Range().Ptr(),
					})
				} else {
					d.viaAddrs[t] = addr
				}
			}
		}
		d.instances = append(d.instances, t)
		if mode == "for_each" {
			byKey[t.Name] = cty.StringVal(t.Addr)
		} else {
			list = append(list, cty.StringVal(t.Addr))
		}
	}
	switch mode {
	case "for_each":
		if len(byKey) == 0 {
			return cty.MapValEmpty(cty.String), diags
		}
		return cty.MapVal(byKey), diags
	case "count":
		if len(list) == 0 {
			return cty.ListValEmpty(cty.String), diags
		}
		return cty.ListVal(list), diags
	}
	return cty.StringVal(base), diags
}

func singleAddress(v cty.Value) (string, bool) {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// markSensitiveArgs marks the attributes the spec declares sensitive.
func markSensitiveArgs(args cty.Value, fs FunctionSpec) cty.Value {
	if args.IsNull() || !args.IsKnown() || !args.Type().IsObjectType() {
		return args
	}
	var changed bool
	attrs := args.AsValueMap()
	for _, a := range fs.Args {
		if v, ok := attrs[a.Name]; ok && a.Sensitive {
			attrs[a.Name] = v.Mark(Sensitive)
			changed = true
		}
	}
	if !changed {
		return args
	}
	return cty.ObjectVal(attrs)
}
