package plan

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type groupDecl struct {
	name      string
	members   hcl.Expression
	where     hcl.Expression
	declRange hcl.Range
	group     *Group
	addrs     []string // static members
}

var groupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "members", Required: true}, {Name: "where"}},
}

func decodeGroup(in *instance, b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(groupSchema)
	d := &groupDecl{name: name, declRange: b.DefRange}
	if a := content.Attributes["members"]; a != nil {
		d.members = a.Expr
	} else {
		d.members = hcl.StaticExpr(cty.SetValEmpty(cty.String), b.DefRange)
	}
	if a := content.Attributes["where"]; a != nil {
		d.where = a.Expr
	}
	if prev, ok := in.groups[name]; ok {
		return append(diags, duplicate("group", name, prev.declRange, b.DefRange))
	}
	in.groups[name] = d
	in.grpOrder = append(in.grpOrder, d)
	return diags
}

func (d *groupDecl) traversals() []hcl.Traversal {
	ts := d.members.Variables()
	if d.where != nil {
		for _, t := range d.where.Variables() {
			if t.RootName() != "host" {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// hostAddresses flattens a members or on value into tunnel addresses: a
// string, or any nesting of lists, sets, tuples, maps and objects of them.
func hostAddresses(v cty.Value, expr hcl.Expression, what string) ([]string, hcl.Diagnostics) {
	bad := func(detail string) ([]string, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   detail,
			Subject:  expr.Range().Ptr(),
		}}
	}
	if IsSensitive(v) {
		return bad(fmt.Sprintf("Sensitive values cannot be used as %s: host names are shown in every output.", what))
	}
	if !v.IsWhollyKnown() {
		return bad(fmt.Sprintf("The %s must be known when the plan is loaded.", what))
	}
	var out []string
	var walk func(v cty.Value) bool
	walk = func(v cty.Value) bool {
		if v.IsNull() {
			return true
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			out = append(out, v.AsString())
		case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if !walk(e) {
					return false
				}
			}
		default:
			return false
		}
		return true
	}
	if !walk(v) {
		return bad(fmt.Sprintf("The %s must be tunnels, groups, or collections of them; this is a %s.", what, v.Type().FriendlyName()))
	}
	return out, nil
}

func addressSet(addrs []string) cty.Value {
	if len(addrs) == 0 {
		return cty.SetValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(addrs))
	for i, a := range addrs {
		vals[i] = cty.StringVal(a)
	}
	return cty.SetVal(vals)
}

// hostObject is what host.* reads: the tunnel and, when known, its facts.
func hostObject(t *Tunnel, facts cty.Value) cty.Value {
	if facts == cty.NilVal {
		facts = cty.DynamicVal
	}
	if t == nil {
		return cty.ObjectVal(map[string]cty.Value{
			"name": cty.UnknownVal(cty.String), "addr": cty.UnknownVal(cty.String),
			"kind": cty.UnknownVal(cty.String), "facts": facts,
		})
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal(t.Name), "addr": cty.StringVal(t.Addr),
		"kind": cty.StringVal(t.Kind), "facts": facts,
	})
}

// evalWhere decides a group's where for one host. An unknown result keeps
// the host: one whose facts are missing is then reported unreachable by
// the run instead of silently left out.
func evalWhere(where hcl.Expression, ctx *hcl.EvalContext, host cty.Value) (bool, hcl.Diagnostics) {
	hctx := ctx.NewChild()
	hctx.Variables = map[string]cty.Value{"host": host}
	v, diags := where.Value(hctx)
	if diags.HasErrors() {
		return true, diags
	}
	v, _ = v.UnmarkDeep()
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return true, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid where condition",
			Detail:   fmt.Sprintf("where must be true or false: %s.", err),
			Subject:  where.Range().Ptr(),
		})
	}
	if !b.IsKnown() {
		return true, diags
	}
	if b.IsNull() {
		return false, diags
	}
	return b.True(), diags
}
