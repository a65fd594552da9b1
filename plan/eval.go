package plan

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Results are task results as the engine records them: by task address
// (Task.Addr), then by host name. A task not in Results, or a host not in
// its map, has not run: references to it evaluate to unknown values, which
// is how plan and check mode evaluate everything.
type Results map[string]map[string]cty.Value

// Each is one element of a task's for_each.
type Each struct {
	Key, Value cty.Value
}

// HostEval is what a task's expressions see of one host.
type HostEval struct {
	Host *Tunnel
	// Facts is host.facts; cty.NilVal means not gathered (unknown).
	Facts cty.Value
	// Results holds the results so far; nil means none (plan mode).
	Results Results
	// Each is the for_each element being run, when the task has for_each.
	Each *Each
	// Self is the task's own result, for until and changed_when;
	// cty.NilVal means unknown.
	Self cty.Value
	// Value, when set, is host.* as HostValue made it: a run evaluating
	// many tasks for one host builds it once.
	Value cty.Value
}

// HostValue is what expressions see as host: name, addr, kind and facts
// (cty.NilVal facts: unknown).
func HostValue(t *Tunnel, facts cty.Value) cty.Value { return hostObject(t, facts) }

func (h HostEval) hostValue() cty.Value {
	if h.Value != cty.NilVal {
		return h.Value
	}
	return hostObject(h.Host, h.Facts)
}

// TaskEvalContext returns the context to evaluate t's expressions for one
// host: the module's variables, locals, tunnels, groups and module outputs,
// path.*, the function library, and
//
//	task.NAME       this host's result of an earlier task of the same list
//	tasks.LIST.TASK every host's result of a task of another list (an
//	                object by host name)
//	host.name, host.addr, host.kind, host.facts
//	each.key, each.value (with for_each) and self (in until, changed_when)
//
// Results of sensitive tasks are marked Sensitive. What is not known yet is
// unknown, and an expression over it evaluates to unknown. A task whose
// expressions refer to nothing (literals and function calls only) gets
// just the functions and the module's values: it needs nothing else.
func (c *Config) TaskEvalContext(t *Task, h HostEval) *hcl.EvalContext {
	return t.List.inst.taskCtx(t, h, t.reads)
}

func (in *instance) taskCtx(t *Task, h HostEval, reads map[string]bool) *hcl.EvalContext {
	if t.refless {
		return in.vals.static.NewChild() // a child: a caller writing to it leaves the shared one alone
	}
	ctx := in.runtimeCtx(in.vals.static, h.Results, reads).NewChild()
	earlier := make(map[string]cty.Value, len(t.earlier))
	for _, e := range t.earlier { // only those read: the others would cost for nothing
		v := cty.NilVal
		if h.Host != nil {
			if byHost, ok := h.Results[e.Addr]; ok {
				if r, ok := byHost[h.Host.Name]; ok {
					v = r
				}
			}
		}
		if v == cty.NilVal {
			v = e.pendingResult()
		} else if e.Sensitive {
			v = v.Mark(Sensitive)
		}
		earlier[e.Name] = v
	}
	vars := map[string]cty.Value{
		"task": objectOf(earlier),
		"host": h.hostValue(),
	}
	if t.ForEach != nil {
		if h.Each != nil {
			vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": h.Each.Key, "value": h.Each.Value})
		} else {
			vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})
		}
	}
	self := h.Self
	if self == cty.NilVal {
		self = t.pendingResult()
	} else if t.Sensitive {
		self = self.Mark(Sensitive)
	}
	vars["self"] = self
	ctx.Variables = vars
	return ctx
}

// Stable reports whether the task's expressions evaluate alike at any
// point of a run: they read no task's result (task.NAME, tasks.LIST.NAME,
// or a local or module output that does) and call no function that reads
// local files (file, templatefile...), which a task on the local machine
// may have changed. A stable task's call can be sent before the task
// before it has ended.
func (t *Task) Stable() bool { return t.stable }

// pendingResult is t's result before it has run: placeholder, made once
// when the list is evaluated.
func (t *Task) pendingResult() cty.Value {
	if t.unknownResult == cty.NilVal {
		return placeholder(t)
	}
	return t.unknownResult
}

// placeholder is the unknown result of a task not run yet: typed when the
// builtin declares its result type, so references to missing attributes
// are caught ahead of time.
func placeholder(t *Task) cty.Value {
	v := cty.DynamicVal
	if ty := t.Spec.Result; t.ForEach == nil && ty != cty.NilType && ty.IsObjectType() {
		attrs := ty.AttributeTypes()
		all := map[string]cty.Type{"changed": cty.Bool, "failed": cty.Bool, "skipped": cty.Bool}
		for k, at := range attrs {
			all[k] = at
		}
		v = cty.UnknownVal(cty.Object(all))
	}
	if t.Sensitive {
		v = v.Mark(Sensitive)
	}
	return v
}

// runtimeCtx is a child of base with tasks.* built from results, and the
// dynamic locals and module outputs evaluated over them. Only the tasks in
// reads get their results (all tasks when reads is nil); the others are
// unknown, which keeps this cheap with many hosts.
func (in *instance) runtimeCtx(base *hcl.EvalContext, results Results, reads map[string]bool) *hcl.EvalContext {
	if base == in.vals.static && reads != nil && !in.readsAny(reads) &&
		len(in.vals.dynOutputs) == 0 && !in.hasDynamicChild() && len(in.vals.dynOrder) == 0 {
		// Nothing here depends on results: the same context serves every
		// task of every host that reads none.
		in.quietCtxOnce.Do(func() { in.quietCtx = in.buildRuntimeCtx(base, nil, map[string]bool{}) })
		return in.quietCtx
	}
	return in.buildRuntimeCtx(base, results, reads)
}

func (in *instance) buildRuntimeCtx(base *hcl.EvalContext, results Results, reads map[string]bool) *hcl.EvalContext {
	ctx := base.NewChild()
	vars := map[string]cty.Value{"tasks": in.tasksObject(results, reads)}
	ctx.Variables = vars
	if len(in.vals.dynOutputs) > 0 || in.hasDynamicChild() {
		mods := map[string]cty.Value{}
		for name, v := range in.vals.modules {
			mods[name] = v
		}
		for name, call := range in.calls {
			if call.inst != nil && call.inst.hasDynamicOutputs() && call.inst.vals.static != nil {
				mods[name] = call.inst.runtimeOutputs(results, reads)
			}
		}
		vars["module"] = objectOf(mods)
	}
	if len(in.vals.dynOrder) > 0 {
		locals := map[string]cty.Value{}
		for name, v := range in.vals.locals {
			locals[name] = v
		}
		for _, name := range in.vals.dynOrder {
			vars["local"] = objectOf(locals)
			v, diags := in.locals[name].expr.Value(ctx)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			locals[name] = v
		}
		vars["local"] = objectOf(locals)
	}
	return ctx
}

func (in *instance) hasDynamicOutputs() bool { return len(in.vals.dynOutputs) > 0 }

func (in *instance) hasDynamicChild() bool {
	for _, call := range in.calls {
		if call.inst != nil && call.inst.hasDynamicOutputs() {
			return true
		}
	}
	return false
}

// runtimeOutputs evaluates a module's outputs over results.
func (in *instance) runtimeOutputs(results Results, reads map[string]bool) cty.Value {
	ctx := in.runtimeCtx(in.vals.static, results, reads)
	out := map[string]cty.Value{}
	for _, o := range in.outOrder {
		out[o.Name] = o.value(ctx)
	}
	return objectOf(out)
}

// value is the output's value in ctx, as a module's caller sees it:
// unknown when it cannot be evaluated, marked when sensitive.
func (o *Output) value(ctx *hcl.EvalContext) cty.Value {
	v, diags := o.Expr.Value(ctx)
	if diags.HasErrors() {
		v = cty.DynamicVal
	}
	if o.Sensitive {
		v = v.Mark(Sensitive)
	}
	return v
}

// tasksObject is tasks.LIST.TASK for one module instance.
func (in *instance) tasksObject(results Results, reads map[string]bool) cty.Value {
	if reads != nil && !in.readsAny(reads) {
		in.unknownTasksOnce.Do(func() { in.unknownTasks = in.buildTasksObject(nil, map[string]bool{}) })
		return in.unknownTasks
	}
	return in.buildTasksObject(results, reads)
}

// readsAny reports whether reads names a task of this instance. It runs
// for every task evaluated, and most tasks read no results.
func (in *instance) readsAny(reads map[string]bool) bool {
	if len(reads) == 0 {
		return false
	}
	for _, l := range in.lists {
		for _, t := range l.Tasks {
			if reads[t.Addr] {
				return true
			}
		}
	}
	return false
}

func (in *instance) buildTasksObject(results Results, reads map[string]bool) cty.Value {
	lists := map[string]cty.Value{}
	for name, l := range in.lists {
		tasks := map[string]cty.Value{}
		for _, t := range l.Tasks {
			v := cty.NilVal
			if byHost, ok := results[t.Addr]; ok && (reads == nil || reads[t.Addr]) {
				hosts := make(map[string]cty.Value, len(byHost))
				for h, r := range byHost {
					hosts[h] = r
				}
				v = objectOf(hosts)
				if t.Sensitive {
					v = v.Mark(Sensitive)
				}
			}
			if v == cty.NilVal {
				v = cty.DynamicVal
				if t.Sensitive {
					v = v.Mark(Sensitive)
				}
			}
			tasks[t.Name] = v
		}
		lists[name] = objectOf(tasks)
	}
	return objectOf(lists)
}

// EvalArgs evaluates the task's arguments in ctx (from TaskEvalContext)
// into an object with exactly the attributes of the builtin's spec:
// converted to their types, absent ones defaulted (or null), sensitive
// ones marked. Unknown values stay unknown.
func (t *Task) EvalArgs(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs := map[string]cty.Value{}
	for _, a := range t.Spec.Args {
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		e, ok := t.Args[a.Name]
		if !ok {
			if a.Default != cty.NilVal {
				attrs[a.Name] = a.Default
			} else {
				attrs[a.Name] = cty.NullVal(ty)
			}
			continue
		}
		v, d := e.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			attrs[a.Name] = cty.UnknownVal(ty)
			continue
		}
		v, d = convertArg(a.Name, v, ty, e.Range())
		diags = append(diags, d...)
		if v.IsNull() && a.Required {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Required argument is null",
				Detail: fmt.Sprintf("The argument %q is required and cannot be null.", a.Name), Subject: e.Range().Ptr(),
			})
		}
		if v.IsNull() && a.Default != cty.NilVal {
			v = a.Default
		}
		if a.Sensitive || t.Sensitive {
			v = v.Mark(Sensitive)
		}
		attrs[a.Name] = v
	}
	return objectOf(attrs), diags
}

// EvalCondition evaluates a condition (a task's When, Until or
// ChangedWhen, a group's Where) to a cty.Bool: unknown while what it reads
// is unknown, false when null.
func EvalCondition(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if expr == nil {
		return cty.True, nil
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.UnknownVal(cty.Bool), diags
	}
	b, d := boolOf(v, expr, "condition")
	return b, append(diags, d...)
}

// EvalForEach evaluates a task's for_each for one host: the elements in
// order (map keys sorted, list indexes as numbers), or known=false while
// the collection is unknown. A task without for_each has one element, nil.
func (t *Task) EvalForEach(ctx *hcl.EvalContext) (elems []*Each, known bool, diags hcl.Diagnostics) {
	if t.ForEach == nil {
		return []*Each{nil}, true, nil
	}
	v, diags := t.ForEach.Value(ctx)
	if diags.HasErrors() {
		return nil, false, diags
	}
	if !v.IsWhollyKnown() {
		return nil, false, diags
	}
	marks := v.Marks()
	v, _ = v.Unmark()
	if v.IsNull() {
		return nil, true, diags
	}
	ty := v.Type()
	if !(ty.IsMapType() || ty.IsObjectType() || ty.IsSetType() || ty.IsListType() || ty.IsTupleType()) {
		return nil, false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail:  fmt.Sprintf("A task's for_each takes a map, a set or a list; this is a %s.", ty.FriendlyName()),
			Subject: t.ForEach.Range().Ptr(),
		})
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if ty.IsSetType() {
			k = e
		}
		elems = append(elems, &Each{Key: k.WithMarks(marks), Value: e.WithMarks(marks)})
	}
	return elems, true, diags
}

// EvalOutputs evaluates the root module's outputs over the results of a
// run. Sensitive outputs come back marked.
func (c *Config) EvalOutputs(results Results) (map[string]cty.Value, hcl.Diagnostics) {
	in := c.root
	out := map[string]cty.Value{}
	if in == nil || in.vals.static == nil || len(in.outOrder) == 0 {
		return out, nil
	}
	var diags hcl.Diagnostics
	reads := map[string]bool{} // only the results the outputs read are built
	for _, o := range in.outOrder {
		for _, r := range in.exprReads(o.Expr.Variables(), map[string]bool{}) {
			reads[r.Addr] = true
		}
	}
	ctx := in.runtimeCtx(in.vals.static, results, reads)
	for _, o := range in.outOrder {
		v, d := o.Expr.Value(ctx)
		diags = append(diags, d...)
		if o.Sensitive {
			v = v.Mark(Sensitive)
		}
		out[o.Name] = v
	}
	return out, diags
}

// EvalContext is the root module's static context (variables, locals,
// tunnels, groups, module outputs, functions) with tasks.* built from
// results: for evaluating an expression outside any task.
func (c *Config) EvalContext(results Results) *hcl.EvalContext {
	return c.root.runtimeCtx(c.root.vals.static, results, nil)
}

// ReadsFacts reports whether running the plan needs its hosts' facts: a
// group's where decides a list's hosts, or a task reads host.facts (or
// host as a whole). A run can skip gathering them otherwise.
func (c *Config) ReadsFacts() bool {
	for _, l := range c.TaskLists {
		if l.Filtered {
			return true
		}
		for _, t := range l.Tasks {
			for _, it := range taskExprsOf(t) {
				for _, tr := range it.expr.Variables() {
					if tr.RootName() != "host" {
						continue
					}
					if name, _ := stepName(tr, 1); name == "" || name == "facts" {
						return true
					}
				}
			}
		}
	}
	return false
}
