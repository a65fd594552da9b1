package plan

import (
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// instance is one module instance: the root module, or a module block's
// copy of its source. It holds the declarations read from the module's
// files and, once evaluated, their static values.
type instance struct {
	addr   string // "" for the root, else "module.NAME" (nested: module.A.module.B)
	dir    string
	parent *instance
	call   *moduleCall // the block that made this instance; nil for the root

	variables map[string]*Variable
	varOrder  []*Variable
	locals    map[string]*localDecl
	outputs   map[string]*Output
	outOrder  []*Output
	tunnels   map[string]*tunnelDecl // by "KIND.NAME"
	tunOrder  []*tunnelDecl
	groups    map[string]*groupDecl
	grpOrder  []*groupDecl
	lists     map[string]*TaskList
	calls     map[string]*moduleCall
	// items are the task lists and module calls in plan order.
	items []planItem

	vals values

	// unknownTasks is tasks.* with every result unknown: what a task that
	// reads no results sees, built once.
	unknownTasksOnce sync.Once
	unknownTasks     cty.Value
	// quietCtx is the run-time context of tasks that read no results.
	quietCtxOnce sync.Once
	quietCtx     *hcl.EvalContext
}

// planItem is a task list or a module call, in plan order.
type planItem struct {
	list *TaskList
	call *moduleCall
}

// prefix is what the instance's addresses start with.
func (in *instance) prefix() string {
	if in.addr == "" {
		return ""
	}
	return in.addr + "."
}

type localDecl struct {
	name string
	expr hcl.Expression
	rng  hcl.Range
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "tunnel", LabelNames: []string{"kind", "name"}},
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "tasks", LabelNames: []string{"name"}},
		{Type: "module", LabelNames: []string{"name"}},
	},
}

// maxModuleDepth stops a module that (indirectly) calls itself.
const maxModuleDepth = 16

// decodeModule reads the declarations of one module instance from its
// files: the first stage of decoding. Nothing is evaluated yet.
func (l *loader) decodeModule(addr, dir string, files []*hcl.File, call *moduleCall, depth int) (*instance, hcl.Diagnostics) {
	in := &instance{
		addr:      addr,
		dir:       dir,
		call:      call,
		variables: map[string]*Variable{},
		locals:    map[string]*localDecl{},
		outputs:   map[string]*Output{},
		tunnels:   map[string]*tunnelDecl{},
		groups:    map[string]*groupDecl{},
		lists:     map[string]*TaskList{},
		calls:     map[string]*moduleCall{},
	}
	var diags hcl.Diagnostics
	for _, f := range files {
		content, d := f.Body.Content(rootSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			diags = append(diags, l.decodeTopBlock(in, b, depth)...)
		}
	}
	return in, diags
}

func (l *loader) decodeTopBlock(in *instance, b *hcl.Block, depth int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, label := range b.Labels {
		if !hclsyntax.ValidIdentifier(label) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid name",
				Detail:   fmt.Sprintf("%q is not a valid %s name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", label, b.Type),
				Subject:  b.LabelRanges[i].Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	switch b.Type {
	case "variable":
		diags = append(diags, decodeVariable(in, b)...)
	case "locals":
		diags = append(diags, decodeLocals(in, b)...)
	case "output":
		diags = append(diags, decodeOutput(in, b)...)
	case "tunnel":
		diags = append(diags, l.decodeTunnel(in, b)...)
	case "group":
		diags = append(diags, decodeGroup(in, b)...)
	case "tasks":
		diags = append(diags, l.decodeTaskList(in, b)...)
	case "module":
		diags = append(diags, l.decodeModuleCall(in, b, depth)...)
	}
	return diags
}

func duplicate(what, name string, prev, here hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what,
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique.", what, name, prev),
		Subject:  here.Ptr(),
	}
}

func decodeLocals(in *instance, b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	for _, a := range sortedAttrs(attrs) {
		if !hclsyntax.ValidIdentifier(a.Name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid name",
				Detail:   fmt.Sprintf("%q is not a valid local value name.", a.Name),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		if prev, ok := in.locals[a.Name]; ok {
			diags = append(diags, duplicate("local value", a.Name, prev.rng, a.NameRange))
			continue
		}
		in.locals[a.Name] = &localDecl{name: a.Name, expr: a.Expr, rng: a.NameRange}
	}
	return diags
}

// sortedAttrs orders attributes by their place in the source, so the
// diagnostics come out in reading order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sortByRange(out, func(a *hcl.Attribute) hcl.Range { return a.Range })
	return out
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

func decodeOutput(in *instance, b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(outputSchema)
	o := &Output{Name: name, Module: in.addr, DeclRange: b.DefRange}
	if a := content.Attributes["value"]; a != nil {
		o.Expr = a.Expr
	}
	if a := content.Attributes["description"]; a != nil {
		diags = append(diags, literalString(a, &o.Description)...)
	}
	if a := content.Attributes["sensitive"]; a != nil {
		diags = append(diags, literalBool(a, &o.Sensitive)...)
	}
	if prev, ok := in.outputs[name]; ok {
		return append(diags, duplicate("output", name, prev.DeclRange, b.DefRange))
	}
	if o.Expr == nil {
		o.Expr = hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), b.DefRange)
	}
	in.outputs[name] = o
	in.outOrder = append(in.outOrder, o)
	return diags
}

// literalString decodes an attribute that must be a constant string.
func literalString(a *hcl.Attribute, out *string) hcl.Diagnostics {
	v, diags := constValue(a, cty.String)
	if !diags.HasErrors() && !v.IsNull() {
		*out = v.AsString()
	}
	return diags
}

func literalBool(a *hcl.Attribute, out *bool) hcl.Diagnostics {
	v, diags := constValue(a, cty.Bool)
	if !diags.HasErrors() && !v.IsNull() {
		*out = v.True()
	}
	return diags
}

// constValue evaluates an attribute that may refer to nothing.
func constValue(a *hcl.Attribute, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	if vars := a.Expr.Variables(); len(vars) > 0 {
		return cty.NullVal(ty), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Variables not allowed",
			Detail:   fmt.Sprintf("The argument %q must be a constant; it cannot refer to anything.", a.Name),
			Subject:  vars[0].SourceRange().Ptr(),
		}}
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NullVal(ty), diags
	}
	return convertArg(a.Name, v, ty, a.Expr.Range())
}

func sortByRange[T any](s []T, rng func(T) hcl.Range) {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := rng(s[i]), rng(s[j])
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
