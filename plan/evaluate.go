package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// values are a module instance's static values, filled in as the static
// evaluation goes.
type values struct {
	fns     map[string]function.Function
	vars    map[string]cty.Value
	on      cty.Value // var.on in a module
	locals  map[string]cty.Value
	tunnels map[string]map[string]cty.Value
	groups  map[string]cty.Value
	modules map[string]cty.Value
	rootDir string

	// dynLocals and dynOutputs read task results: they are evaluated in
	// each run-time context, in dynOrder.
	dynLocals  map[string]bool
	dynOutputs map[string]bool
	dynOrder   []string
	// filtered groups (and locals) hold hosts a where decides at run time.
	filtered map[string]bool

	groupOrder []*groupDecl
	static     *hcl.EvalContext // every static value, once evaluation is done
	failed     bool
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// evalCtx is the module instance's context with the static values known
// so far.
func (in *instance) evalCtx() *hcl.EvalContext {
	v := &in.vals
	vars := map[string]cty.Value{}
	for k, x := range v.vars {
		vars[k] = x
	}
	if in.addr != "" {
		vars["on"] = v.on
	}
	tunnels := map[string]cty.Value{}
	for kind, m := range v.tunnels {
		tunnels[kind] = objectOf(m)
	}
	cwd, _ := os.Getwd()
	// path.module is absolute so that "${path.module}/x" works in file
	// functions, which also resolve relative paths against the module.
	moduleDir, _ := filepath.Abs(in.dir)
	rootDir, _ := filepath.Abs(v.rootDir)
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":    objectOf(vars),
			"local":  objectOf(v.locals),
			"tunnel": objectOf(tunnels),
			"group":  objectOf(v.groups),
			"module": objectOf(v.modules),
			"path": cty.ObjectVal(map[string]cty.Value{
				"module": cty.StringVal(moduleDir),
				"root":   cty.StringVal(rootDir),
				"cwd":    cty.StringVal(cwd),
			}),
		},
		Functions: v.fns,
	}
}

// evaluate runs the static evaluation of the whole plan and assembles the
// Config.
func (c *Config) evaluate() hcl.Diagnostics {
	c.root.analyzeDynamic()
	c.root.analyzeFiltered(false)
	diags := c.evalInstance(c.root)
	diags = append(diags, c.assemble()...)
	return diags
}

func (in *instance) initValues() {
	v := &in.vals
	v.fns = Functions(in.dir)
	v.rootDir = in.dir
	for p := in.parent; p != nil; p = p.parent {
		v.rootDir = p.dir
	}
	v.vars = map[string]cty.Value{}
	v.locals = map[string]cty.Value{}
	v.tunnels = map[string]map[string]cty.Value{}
	v.groups = map[string]cty.Value{}
	v.modules = map[string]cty.Value{}
	if v.on == cty.NilVal {
		v.on = cty.SetValEmpty(cty.String)
	}
	// Placeholders: a reference to something that fails to evaluate sees
	// an unknown value instead of causing a second, confusing error.
	for n := range in.locals {
		v.locals[n] = cty.DynamicVal
	}
	for _, d := range in.tunOrder {
		if v.tunnels[d.kind] == nil {
			v.tunnels[d.kind] = map[string]cty.Value{}
		}
		v.tunnels[d.kind][d.name] = cty.DynamicVal
	}
	for n := range in.groups {
		v.groups[n] = cty.DynamicVal
	}
	for n := range in.calls {
		v.modules[n] = cty.DynamicVal
	}
}

// analyzeDynamic finds the locals and outputs that read task results
// (directly or through other locals and module outputs). Children first:
// a parent's local may read a child's dynamic output.
func (in *instance) analyzeDynamic() {
	for _, call := range in.calls {
		if call.inst != nil {
			call.inst.analyzeDynamic()
		}
	}
	v := &in.vals
	v.dynLocals = map[string]bool{}
	v.dynOutputs = map[string]bool{}
	isDyn := func(ts []hcl.Traversal) bool {
		for _, t := range ts {
			name, _ := stepName(t, 1)
			switch t.RootName() {
			case "tasks":
				return true
			case "local":
				if v.dynLocals[name] {
					return true
				}
			case "module":
				out, _ := stepName(t, 2)
				if call := in.calls[name]; call != nil && call.inst != nil && call.inst.vals.dynOutputs[out] {
					return true
				}
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for name, l := range in.locals {
			if !v.dynLocals[name] && isDyn(l.expr.Variables()) {
				v.dynLocals[name] = true
				changed = true
			}
		}
	}
	for name, o := range in.outputs {
		if isDyn(o.Expr.Variables()) {
			v.dynOutputs[name] = true
		}
	}
	// Order the dynamic locals among themselves.
	var nodes []string
	deps := map[string][]string{}
	for _, name := range sortedKeys(v.dynLocals) {
		nodes = append(nodes, name)
		for _, t := range in.locals[name].expr.Variables() {
			if n, _ := stepName(t, 1); t.RootName() == "local" && v.dynLocals[n] {
				deps[name] = append(deps[name], n)
			}
		}
	}
	v.dynOrder, _ = topoOrder(nodes, deps) // cycles are reported by the static pass
}

// analyzeFiltered finds the groups and locals whose hosts a where decides
// at run time. Parents first: a module's var.on is filtered when its
// caller's on is.
func (in *instance) analyzeFiltered(onFiltered bool) {
	v := &in.vals
	v.filtered = map[string]bool{}
	if onFiltered {
		v.filtered["var.on"] = true
	}
	for changed := true; changed; {
		changed = false
		for name, g := range in.groups {
			key := "group." + name
			if !v.filtered[key] && (g.where != nil || in.refsFiltered(g.members.Variables())) {
				v.filtered[key] = true
				changed = true
			}
		}
		for name, l := range in.locals {
			key := "local." + name
			if !v.filtered[key] && in.refsFiltered(l.expr.Variables()) {
				v.filtered[key] = true
				changed = true
			}
		}
	}
	for _, call := range in.calls {
		if call.inst != nil {
			call.inst.analyzeFiltered(call.on != nil && in.refsFiltered(call.on.Variables()))
		}
	}
}

func (in *instance) refsFiltered(ts []hcl.Traversal) bool {
	for _, t := range ts {
		name, _ := stepName(t, 1)
		if in.vals.filtered[t.RootName()+"."+name] {
			return true
		}
	}
	return false
}

// staticNode is a local, tunnel, group or module call: the things whose
// values are known when the plan is loaded, evaluated in the order their
// references require.
type staticNode struct {
	id     string
	local  *localDecl
	tunnel *tunnelDecl
	group  *groupDecl
	call   *moduleCall
	rng    hcl.Range
}

func (in *instance) staticNodes() ([]*staticNode, map[string][]string) {
	var nodes []*staticNode
	for _, name := range sortedKeys(in.locals) {
		l := in.locals[name]
		nodes = append(nodes, &staticNode{id: "local." + name, local: l, rng: l.rng})
	}
	for _, d := range in.tunOrder {
		nodes = append(nodes, &staticNode{id: "tunnel." + d.kind + "." + d.name, tunnel: d, rng: d.declRange})
	}
	for _, d := range in.grpOrder {
		nodes = append(nodes, &staticNode{id: "group." + d.name, group: d, rng: d.declRange})
	}
	for _, it := range in.items {
		if it.call != nil {
			nodes = append(nodes, &staticNode{id: "module." + it.call.name, call: it.call, rng: it.call.declRange})
		}
	}
	sortByRange(nodes, func(n *staticNode) hcl.Range { return n.rng })
	deps := map[string][]string{}
	for _, n := range nodes {
		var ts []hcl.Traversal
		switch {
		case n.local != nil:
			ts = n.local.expr.Variables()
		case n.tunnel != nil:
			ts = n.tunnel.traversals()
		case n.group != nil:
			ts = n.group.traversals()
		case n.call != nil:
			if n.call.on != nil {
				ts = append(ts, n.call.on.Variables()...)
			}
			if n.call.vars != nil {
				ts = append(ts, n.call.vars.Variables()...)
			}
		}
		for _, t := range ts {
			name, _ := stepName(t, 1)
			switch t.RootName() {
			case "local", "group", "module":
				deps[n.id] = append(deps[n.id], t.RootName()+"."+name)
			case "tunnel":
				tname, _ := stepName(t, 2)
				deps[n.id] = append(deps[n.id], "tunnel."+name+"."+tname)
			}
		}
	}
	return nodes, deps
}

// evalInstance evaluates one module instance: its variables' validations,
// its static values in reference order, its task lists and its outputs.
func (c *Config) evalInstance(in *instance) hcl.Diagnostics {
	in.initValues()
	v := &in.vals
	var diags hcl.Diagnostics
	fnctx := &hcl.EvalContext{Functions: v.fns}
	for _, vr := range in.varOrder {
		v.vars[vr.Name] = vr.Value
		diags = append(diags, validateVariable(vr, fnctx)...)
	}

	nodes, deps := in.staticNodes()
	ids := make([]string, len(nodes))
	byID := map[string]*staticNode{}
	for i, n := range nodes {
		ids[i] = n.id
		byID[n.id] = n
	}
	order, cycles := topoOrder(ids, deps)
	for _, cyc := range cycles {
		n := byID[cyc[0]]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle in references",
			Detail:   fmt.Sprintf("These refer to each other in a loop, so none can be evaluated first: %s.", in.qualify(cyc)),
			Subject:  n.rng.Ptr(),
		})
	}
	for _, id := range order {
		n := byID[id]
		ctx := in.evalCtx()
		switch {
		case n.local != nil:
			diags = append(diags, in.evalLocal(n.local, ctx)...)
		case n.tunnel != nil:
			d := n.tunnel
			rules := refRules{what: "a tunnel block", static: true, each: d.forEach != nil, count: d.count != nil}
			rd := in.checkTraversals(d.traversals(), rules)
			diags = append(diags, rd...)
			if rd.HasErrors() {
				continue
			}
			val, dd := in.evalTunnel(d, ctx)
			diags = append(diags, dd...)
			v.tunnels[d.kind][d.name] = val
		case n.group != nil:
			diags = append(diags, in.evalGroup(n.group, ctx)...)
			v.groupOrder = append(v.groupOrder, n.group)
		case n.call != nil:
			val, d := c.evalModuleCall(in, n.call, ctx)
			diags = append(diags, d...)
			v.modules[n.call.name] = val
		}
	}
	v.static = in.evalCtx()

	for _, it := range in.items {
		if it.list != nil {
			diags = append(diags, in.evalList(it.list)...)
		}
	}
	for _, o := range in.outOrder {
		diags = append(diags, in.checkOutput(o)...)
	}
	return diags
}

// qualify prefixes names with the module address, for messages.
func (in *instance) qualify(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = in.prefix() + id
	}
	return strings.Join(out, " → ")
}

func (in *instance) checkTraversals(ts []hcl.Traversal, r refRules) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range ts {
		diags = append(diags, in.checkTraversal(t, r)...)
	}
	return diags
}

func (in *instance) evalLocal(l *localDecl, ctx *hcl.EvalContext) hcl.Diagnostics {
	diags := in.checkRefs(l.expr, refRules{what: "a local value"})
	if diags.HasErrors() || in.vals.dynLocals[l.name] {
		return diags
	}
	val, d := l.expr.Value(ctx)
	diags = append(diags, d...)
	if !d.HasErrors() {
		in.vals.locals[l.name] = val
	}
	return diags
}

func (in *instance) evalGroup(d *groupDecl, ctx *hcl.EvalContext) hcl.Diagnostics {
	diags := in.checkRefs(d.members, refRules{what: "a group's members", static: true})
	diags = append(diags, in.checkRefs(d.where, refRules{what: "a group's where", static: true, host: true})...)
	if diags.HasErrors() {
		return diags
	}
	val, dd := d.members.Value(ctx)
	diags = append(diags, dd...)
	if dd.HasErrors() {
		return diags
	}
	addrs, dd := hostAddresses(val, d.members, "group members")
	diags = append(diags, dd...)
	if dd.HasErrors() {
		return diags
	}
	d.addrs = addrs
	in.vals.groups[d.name] = addressSet(addrs)
	if d.where != nil {
		_, dd := evalWhere(d.where, ctx, hostObject(nil, cty.DynamicVal))
		diags = append(diags, dd...)
	}
	return diags
}

// evalList resolves a task list's hosts and dependencies, evaluates its
// static arguments and checks every task.
func (in *instance) evalList(list *TaskList) hcl.Diagnostics {
	ctx := in.vals.static
	var diags hcl.Diagnostics
	switch {
	case list.OnExpr != nil:
		d := in.checkRefs(list.OnExpr, refRules{what: "a task list's on", static: true})
		diags = append(diags, d...)
		if !d.HasErrors() {
			v, d := list.OnExpr.Value(ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				addrs, d := hostAddresses(v, list.OnExpr, "hosts")
				diags = append(diags, d...)
				list.onAddrs = addrs
			}
		}
		list.Filtered = in.refsFiltered(list.OnExpr.Variables())
	case in.call != nil && in.call.on != nil:
		addrs, _ := hostAddresses(in.vals.on, in.call.on, "hosts")
		list.onAddrs = addrs
		list.Filtered = in.vals.filtered["var.on"]
	default:
		what := "Set on to the tunnels or groups it runs on."
		if in.call != nil {
			what = fmt.Sprintf("Set on here, or on in the module block %q to give every list of the module its hosts.", in.call.name)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing required argument",
			Detail:   fmt.Sprintf("The task list %q does not say which hosts it runs on. %s", list.Name, what),
			Subject:  list.DeclRange.Ptr(),
		})
	}
	diags = append(diags, in.resolveDependsOn(list)...)
	diags = append(diags, in.evalListArgs(list, ctx)...)
	deps := map[string]bool{}
	earlier := map[string]*Task{}
	for i, t := range list.Tasks {
		diags = append(diags, in.evalTaskMeta(t, ctx)...)
		t.reads = in.taskReads(t)
		t.earlier = earlierRead(t, list.Tasks[:i:i], earlier)
		t.refless = refless(t)
		t.stable = stable(t)
		earlier[t.Name] = t
		t.unknownResult = placeholder(t)
		d, reads := in.checkTask(t)
		diags = append(diags, d...)
		for _, r := range reads {
			if r.List != list {
				deps[r.List.Addr] = true
			}
		}
	}
	list.dataDeps = sortedKeys(deps)
	return diags
}

func (in *instance) resolveDependsOn(list *TaskList) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	add := func(addr string) {
		if !seen[addr] {
			seen[addr] = true
			list.explicit = append(list.explicit, addr)
		}
	}
	for _, e := range list.exprs.dependsOn {
		t, d := hcl.AbsTraversalForExpr(e)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on reference",
				Detail:   "depends_on lists task lists and modules by reference, as tasks.NAME or module.NAME.",
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		name, _ := stepName(t, 1)
		switch t.RootName() {
		case "tasks":
			l, ok := in.lists[name]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared task list",
					Detail:   fmt.Sprintf("depends_on names a task list %q, which is not declared in this module.%s", name, didYouMean(name, sortedKeys(in.lists))),
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			add(l.Addr)
		case "module":
			call, ok := in.calls[name]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared module",
					Detail:   fmt.Sprintf("depends_on names a module %q, which is not declared in this module.%s", name, didYouMean(name, sortedKeys(in.calls))),
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			if call.inst != nil {
				for _, l := range call.inst.allLists() {
					add(l.Addr)
				}
			}
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on reference",
				Detail:   fmt.Sprintf("depends_on lists task lists and modules, as tasks.NAME or module.NAME; %s is neither.", t.RootName()),
				Subject:  e.Range().Ptr(),
			})
		}
	}
	return diags
}

// allLists is every task list of the instance and its modules, in plan
// order.
func (in *instance) allLists() []*TaskList {
	var out []*TaskList
	for _, it := range in.items {
		if it.list != nil {
			out = append(out, it.list)
		} else if it.call.inst != nil {
			out = append(out, it.call.inst.allLists()...)
		}
	}
	return out
}

// taskExprsOf lists a task's per-host expressions and the references each
// may make.
func taskExprsOf(t *Task) []struct {
	name  string
	expr  hcl.Expression
	rules refRules
} {
	base := refRules{what: "a task argument", host: true, each: t.ForEach != nil, task: t, list: t.List}
	type item = struct {
		name  string
		expr  hcl.Expression
		rules refRules
	}
	var out []item
	for _, a := range t.Spec.Args {
		if e := t.Args[a.Name]; e != nil {
			out = append(out, item{a.Name, e, base})
		}
	}
	if t.unknown {
		return out
	}
	when := base
	when.what = "when"
	fe := base
	fe.what, fe.each = "a task's for_each", false
	self := base
	self.self = true
	for _, x := range []item{{"when", t.When, when}, {"for_each", t.ForEach, fe}, {"until", t.Until, self}, {"changed_when", t.ChangedWhen, self}} {
		if x.expr != nil {
			if x.name == "until" || x.name == "changed_when" {
				x.rules.what = x.name
			}
			out = append(out, x)
		}
	}
	return out
}

// checkTask checks a task's references and evaluates its arguments once
// with everything run-time unknown, which finds type errors before
// anything runs. It returns the tasks of other lists it reads.
func (in *instance) checkTask(t *Task) (hcl.Diagnostics, []*Task) {
	var diags hcl.Diagnostics
	items := taskExprsOf(t)
	ok := true
	for _, it := range items {
		d := in.checkRefs(it.expr, it.rules)
		diags = append(diags, d...)
		if d.HasErrors() {
			ok = false
		}
	}
	var reads []*Task
	for _, it := range items {
		for _, r := range in.exprReads(it.expr.Variables(), map[string]bool{}) {
			reads = append(reads, r)
		}
	}
	if !ok || t.unknown {
		return diags, reads
	}
	ctx := in.taskCtx(t, HostEval{Self: cty.NilVal}, t.reads)
	for _, it := range items {
		v, d := it.expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		switch it.name {
		case "when", "until", "changed_when":
			_, d = convertArg(it.name, v, cty.Bool, it.expr.Range())
			diags = append(diags, d...)
		case "for_each":
			if v.IsKnown() && !v.IsNull() {
				u, _ := v.Unmark()
				ty := u.Type()
				if !(ty.IsMapType() || ty.IsObjectType() || ty.IsSetType() || ty.IsListType() || ty.IsTupleType()) {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid for_each argument",
						Detail:  fmt.Sprintf("A task's for_each takes a map, a set or a list; this is a %s.", ty.FriendlyName()),
						Subject: it.expr.Range().Ptr(),
					})
				}
			}
		default:
			spec, _ := t.Spec.Arg(it.name)
			_, d = convertArg(it.name, v, spec.Type, it.expr.Range())
			diags = append(diags, d...)
		}
	}
	return diags, reads
}

// exprReads finds the tasks whose results the traversals read: tasks.L.T
// directly, or through dynamic locals and module outputs.
func (in *instance) exprReads(ts []hcl.Traversal, seen map[string]bool) []*Task {
	var out []*Task
	for _, t := range ts {
		name, _ := stepName(t, 1)
		switch t.RootName() {
		case "tasks":
			task, _ := stepName(t, 2)
			if l := in.lists[name]; l != nil {
				if tk := l.task(task); tk != nil {
					out = append(out, tk)
				}
			}
		case "local":
			key := in.addr + "local." + name
			if in.vals.dynLocals[name] && !seen[key] {
				seen[key] = true
				out = append(out, in.exprReads(in.locals[name].expr.Variables(), seen)...)
			}
		case "module":
			out2, _ := stepName(t, 2)
			call := in.calls[name]
			if call == nil || call.inst == nil {
				continue
			}
			child := call.inst
			key := child.addr + "output." + out2
			if o := child.outputs[out2]; o != nil && child.vals.dynOutputs[out2] && !seen[key] {
				seen[key] = true
				out = append(out, child.exprReads(o.Expr.Variables(), seen)...)
			}
		}
	}
	return out
}

// earlierRead is the earlier tasks (all, by name) whose results t reads
// as task.NAME; all of them when it uses task in a way that could reach
// any (task[expr], task).
func earlierRead(t *Task, all []*Task, byName map[string]*Task) []*Task {
	var out []*Task
	seen := map[string]bool{}
	for _, it := range taskExprsOf(t) {
		for _, tr := range it.expr.Variables() {
			if tr.RootName() != "task" {
				continue
			}
			name, _ := stepName(tr, 1)
			if name == "" {
				return all
			}
			if e := byName[name]; e != nil && !seen[name] {
				seen[name] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// localFileFunctions read the controller's files when they are called.
var localFileFunctions = map[string]bool{"file": true, "filebase64": true, "fileexists": true, "fileset": true, "templatefile": true}

// stable is Task.Stable, worked out once t's reads and earlier are known:
// no result read (through a local or module output either, or task and
// tasks as a whole), and no call of a function that reads local files (an
// expression it cannot look into counts as one).
func stable(t *Task) bool {
	if len(t.reads) > 0 || len(t.earlier) > 0 {
		return false
	}
	for _, it := range taskExprsOf(t) {
		for _, tr := range it.expr.Variables() {
			if root := tr.RootName(); root == "task" || root == "tasks" {
				return false
			}
		}
		e, ok := it.expr.(hclsyntax.Expression)
		if !ok {
			return false
		}
		readsFiles := false
		hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
			if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && localFileFunctions[call.Name] {
				readsFiles = true
			}
			return nil
		})
		if readsFiles {
			return false
		}
	}
	return true
}

// refless reports whether none of t's expressions refers to anything.
func refless(t *Task) bool {
	for _, it := range taskExprsOf(t) {
		if len(it.expr.Variables()) > 0 {
			return false
		}
	}
	return true
}

// taskReads is the set of task addresses whose results a task's
// expressions read, for building only the results it needs.
func (in *instance) taskReads(t *Task) map[string]bool {
	reads := map[string]bool{}
	for _, it := range taskExprsOf(t) {
		for _, r := range in.exprReads(it.expr.Variables(), map[string]bool{}) {
			reads[r.Addr] = true
		}
	}
	return reads
}

// checkOutput checks an output's references and that it shows nothing
// sensitive unless declared sensitive.
func (in *instance) checkOutput(o *Output) hcl.Diagnostics {
	diags := in.checkRefs(o.Expr, refRules{what: "an output"})
	if diags.HasErrors() {
		return diags
	}
	ctx := in.runtimeCtx(in.vals.static, nil, nil)
	v, d := o.Expr.Value(ctx)
	diags = append(diags, d...)
	if !d.HasErrors() && IsSensitive(v) && !o.Sensitive {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Output refers to sensitive values",
			Detail:   fmt.Sprintf("The output %q would show sensitive values. Declare it with sensitive = true to have it masked, or wrap the value in nonsensitive() if it truly is not secret.", o.Name),
			Subject:  o.Expr.Range().Ptr(),
		})
	}
	return diags
}

// outputsValue is the module's outputs as module.NAME reads them: static
// outputs by value, dynamic ones unknown until run time.
func (in *instance) outputsValue() cty.Value {
	out := map[string]cty.Value{}
	for _, o := range in.outOrder {
		if in.vals.dynOutputs[o.Name] || in.vals.static == nil {
			out[o.Name] = cty.DynamicVal
			continue
		}
		out[o.Name] = o.value(in.vals.static)
	}
	return objectOf(out)
}

// boolOf reads a condition's value: unknown stays unknown, null is false.
func boolOf(v cty.Value, expr hcl.Expression, name string) (cty.Value, hcl.Diagnostics) {
	v, _ = v.UnmarkDeep()
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return cty.UnknownVal(cty.Bool), hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid " + name,
			Detail: fmt.Sprintf("%s must be true or false: %s.", name, err), Subject: expr.Range().Ptr(),
		}}
	}
	if b.IsNull() {
		return cty.False, nil
	}
	return b, nil
}
