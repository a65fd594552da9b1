package plan

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var taskListSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "on"}, {Name: "depends_on"}, {Name: "batch"}, {Name: "max_failures"},
		{Name: "max_fail_percentage"}, {Name: "timeout"}, {Name: "tags"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "task", LabelNames: []string{"builtin", "name"}}},
}

var taskMetaSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range taskMetaArgs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}()

// listExprs are a task list's arguments, kept to be evaluated once the
// static values are known.
type listExprs struct {
	dependsOn         []hcl.Expression
	dependsOnRange    hcl.Range
	batch             hcl.Expression
	maxFailures       hcl.Expression
	maxFailPercentage hcl.Expression
	timeout           hcl.Expression
	tags              hcl.Expression
}

// taskExprs are a task's static meta-arguments.
type taskExprs struct {
	retries, delay, timeout, allowFailure, checkMode, sensitive hcl.Expression
}

func (l *loader) decodeTaskList(in *instance, b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(taskListSchema)
	list := &TaskList{
		Addr:      in.prefix() + "tasks." + name,
		Name:      name,
		Module:    in.addr,
		DeclRange: b.DefRange,
		inst:      in,
	}
	a := content.Attributes
	if a["on"] != nil {
		list.OnExpr = a["on"].Expr
	}
	if a["depends_on"] != nil {
		list.exprs.dependsOnRange = a["depends_on"].Expr.Range()
		elems, d := hcl.ExprList(a["depends_on"].Expr)
		diags = append(diags, d...)
		list.exprs.dependsOn = elems
	}
	get := func(n string) hcl.Expression {
		if a[n] != nil {
			return a[n].Expr
		}
		return nil
	}
	list.exprs.batch = get("batch")
	list.exprs.maxFailures = get("max_failures")
	list.exprs.maxFailPercentage = get("max_fail_percentage")
	list.exprs.timeout = get("timeout")
	list.exprs.tags = get("tags")

	for _, tb := range content.Blocks {
		t, d := l.decodeTask(list, tb)
		diags = append(diags, d...)
		if t == nil {
			continue
		}
		if prev := list.task(t.Name); prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate task",
				Detail:   fmt.Sprintf("A task named %q was already declared in this list at %s. Task names must be unique in a list.", t.Name, prev.DeclRange),
				Subject:  tb.LabelRanges[1].Ptr(),
			})
			continue
		}
		list.Tasks = append(list.Tasks, t)
	}
	if prev, ok := in.lists[name]; ok {
		return append(diags, duplicate("task list", name, prev.DeclRange, b.DefRange))
	}
	in.lists[name] = list
	in.items = append(in.items, planItem{list: list})
	return diags
}

func (l *loader) decodeTask(list *TaskList, b *hcl.Block) (*Task, hcl.Diagnostics) {
	builtin, name := b.Labels[0], b.Labels[1]
	var diags hcl.Diagnostics
	for i, label := range b.Labels {
		if !validName(label) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid name",
				Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", label),
				Subject:  b.LabelRanges[i].Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	t := &Task{
		Addr:      list.Addr + "." + name,
		Name:      name,
		Builtin:   builtin,
		List:      list,
		Args:      map[string]hcl.Expression{},
		DeclRange: b.DefRange,
	}
	meta, rest, d := b.Body.PartialContent(taskMetaSchema)
	diags = append(diags, d...)
	m := meta.Attributes
	get := func(n string) hcl.Expression {
		if m[n] != nil {
			return m[n].Expr
		}
		return nil
	}
	t.When, t.ForEach, t.Until, t.ChangedWhen = get("when"), get("for_each"), get("until"), get("changed_when")
	t.exprs = taskExprs{
		retries: get("retries"), delay: get("delay"), timeout: get("timeout"),
		allowFailure: get("allow_failure"), checkMode: get("check_mode"), sensitive: get("sensitive"),
	}
	spec, ok := l.opts.Schemas.Builtin(builtin)
	if !ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown builtin",
			Detail: fmt.Sprintf("There is no builtin named %q.%s The builtins are: %s.",
				builtin, didYouMean(builtin, l.opts.Schemas.Builtins()), strings.Join(l.opts.Schemas.Builtins(), ", ")),
			Subject: b.LabelRanges[0].Ptr(),
		})
		t.unknown = true
		return t, diags
	}
	t.Spec = spec
	schema := &hcl.BodySchema{}
	for _, arg := range spec.Args {
		if e := m[arg.Name]; e != nil {
			// A meta-argument the builtin also declares: it gets the value too.
			t.Args[arg.Name] = e.Expr
			continue
		}
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: arg.Name, Required: arg.Required})
	}
	content, d := rest.Content(schema)
	diags = append(diags, d...)
	for n, a := range content.Attributes {
		t.Args[n] = a.Expr
	}
	return t, diags
}

// validName is hclsyntax.ValidIdentifier, kept in one place.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127:
		case i > 0 && (r == '-' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// evalListArgs evaluates a list's static arguments (on is resolved
// separately).
func (in *instance) evalListArgs(list *TaskList, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	e := list.exprs
	rules := refRules{what: "a task list argument", static: true}
	for _, x := range []hcl.Expression{e.batch, e.maxFailures, e.maxFailPercentage, e.timeout, e.tags} {
		diags = append(diags, in.checkRefs(x, rules)...)
	}
	if diags.HasErrors() {
		return diags
	}
	if e.batch != nil {
		b, d := evalBatch(e.batch, ctx)
		diags = append(diags, d...)
		list.Batch = b
	}
	if e.maxFailures != nil {
		n, d := evalWhole(e.maxFailures, ctx, "max_failures")
		diags = append(diags, d...)
		if !d.HasErrors() {
			list.MaxFailures = &n
		}
	}
	if e.maxFailPercentage != nil {
		v, d := evalStatic(e.maxFailPercentage, ctx, "max_fail_percentage", cty.Number)
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			f, _ := v.AsBigFloat().Float64()
			if f < 0 || f > 100 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Invalid max_fail_percentage",
					Detail: "max_fail_percentage is a percentage from 0 to 100.", Subject: e.maxFailPercentage.Range().Ptr(),
				})
			} else {
				list.MaxFailPercentage = &f
			}
		}
	}
	if e.timeout != nil {
		dur, d := evalDuration(e.timeout, ctx, "timeout")
		diags = append(diags, d...)
		list.Timeout = dur
	}
	if e.tags != nil {
		v, d := evalStatic(e.tags, ctx, "tags", cty.List(cty.String))
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			for it := v.ElementIterator(); it.Next(); {
				_, s := it.Element()
				if !s.IsNull() {
					list.Tags = append(list.Tags, s.AsString())
				}
			}
		}
	}
	return diags
}

// evalTaskMeta evaluates a task's static meta-arguments.
func (in *instance) evalTaskMeta(t *Task, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	e := t.exprs
	rules := refRules{what: "this meta-argument", static: true}
	for _, x := range []hcl.Expression{e.retries, e.delay, e.timeout, e.allowFailure, e.checkMode, e.sensitive} {
		diags = append(diags, in.checkRefs(x, rules)...)
	}
	if diags.HasErrors() {
		return diags
	}
	if e.retries != nil {
		n, d := evalWhole(e.retries, ctx, "retries")
		diags = append(diags, d...)
		t.Retries = n
	}
	if e.delay != nil {
		dur, d := evalDuration(e.delay, ctx, "delay")
		diags = append(diags, d...)
		t.Delay = dur
	}
	if e.timeout != nil {
		dur, d := evalDuration(e.timeout, ctx, "timeout")
		diags = append(diags, d...)
		t.Timeout = dur
	}
	boolArg := func(x hcl.Expression, name string) (bool, bool, hcl.Diagnostics) {
		if x == nil {
			return false, false, nil
		}
		v, d := evalStatic(x, ctx, name, cty.Bool)
		if d.HasErrors() || v.IsNull() {
			return false, false, d
		}
		return v.True(), true, d
	}
	var d hcl.Diagnostics
	t.AllowFailure, _, d = boolArg(e.allowFailure, "allow_failure")
	diags = append(diags, d...)
	var cm, set bool
	cm, set, d = boolArg(e.checkMode, "check_mode")
	diags = append(diags, d...)
	if set {
		t.CheckMode = &cm
	}
	t.Sensitive, _, d = boolArg(e.sensitive, "sensitive")
	diags = append(diags, d...)
	if t.Until != nil && t.Retries == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "until without retries",
			Detail:   "until is checked after each attempt, but retries is 0, so the task runs once whatever until says.",
			Subject:  t.Until.Range().Ptr(),
		})
	}
	return diags
}

// evalStatic evaluates an expression that must be known when the plan is
// loaded, converted to ty.
func evalStatic(x hcl.Expression, ctx *hcl.EvalContext, name string, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := x.Value(ctx)
	if diags.HasErrors() {
		return cty.NullVal(ty), diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return cty.NullVal(ty), append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Value not known",
			Detail: fmt.Sprintf("%s must be known when the plan is loaded.", name), Subject: x.Range().Ptr(),
		})
	}
	out, d := convertArg(name, v, ty, x.Range())
	if d.HasErrors() {
		return cty.NullVal(ty), append(diags, d...)
	}
	return out, diags
}

func evalWhole(x hcl.Expression, ctx *hcl.EvalContext, name string) (int, hcl.Diagnostics) {
	v, diags := evalStatic(x, ctx, name, cty.Number)
	if diags.HasErrors() || v.IsNull() {
		return 0, diags
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact || i < 0 || i > math.MaxInt32 {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid " + name,
			Detail: fmt.Sprintf("%s must be a whole number, 0 or more.", name), Subject: x.Range().Ptr(),
		})
	}
	return int(i), diags
}

// evalDuration reads a duration: a string in Go's syntax ("30s", "5m",
// "1h30m") or a number of seconds.
func evalDuration(x hcl.Expression, ctx *hcl.EvalContext, name string) (time.Duration, hcl.Diagnostics) {
	v, diags := evalStatic(x, ctx, name, cty.DynamicPseudoType)
	if diags.HasErrors() || v.IsNull() {
		return 0, diags
	}
	bad := func() (time.Duration, hcl.Diagnostics) {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid duration",
			Detail:  fmt.Sprintf("%s must be a duration such as \"30s\", \"5m\" or \"1h30m\", or a number of seconds.", name),
			Subject: x.Range().Ptr(),
		})
	}
	switch v.Type() {
	case cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f < 0 || f > 1e9 {
			return bad()
		}
		return time.Duration(f * float64(time.Second)), diags
	case cty.String:
		d, err := time.ParseDuration(v.AsString())
		if err != nil || d < 0 {
			return bad()
		}
		return d, diags
	}
	return bad()
}

// evalBatch reads batch: a number, a percentage ("25%") or a list of them.
func evalBatch(x hcl.Expression, ctx *hcl.EvalContext) ([]BatchSize, hcl.Diagnostics) {
	v, diags := evalStatic(x, ctx, "batch", cty.DynamicPseudoType)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	bad := func(detail string) ([]BatchSize, hcl.Diagnostics) {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid batch", Detail: detail, Subject: x.Range().Ptr(),
		})
	}
	var elems []cty.Value
	ty := v.Type()
	if ty.IsListType() || ty.IsTupleType() || ty.IsSetType() {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, e)
		}
		if len(elems) == 0 {
			return bad("batch must hold at least one size.")
		}
	} else {
		elems = []cty.Value{v}
	}
	var out []BatchSize
	for _, e := range elems {
		if e.IsNull() {
			return bad("A batch size cannot be null.")
		}
		if e.Type() == cty.String && strings.HasSuffix(strings.TrimSpace(e.AsString()), "%") {
			p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(e.AsString()), "%"), 64)
			if err != nil || p <= 0 || p > 100 {
				return bad(fmt.Sprintf("%q is not a percentage from 1%% to 100%%.", e.AsString()))
			}
			out = append(out, BatchSize{Percent: p})
			continue
		}
		n, err := convert.Convert(e, cty.Number)
		if err != nil {
			return bad("A batch size is a number of hosts (2) or a percentage (\"25%\").")
		}
		i, acc := n.AsBigFloat().Int64()
		if acc != big.Exact || i < 1 || i > math.MaxInt32 {
			return bad("A batch size is a whole number of hosts, 1 or more.")
		}
		out = append(out, BatchSize{Count: int(i)})
	}
	return out, diags
}
