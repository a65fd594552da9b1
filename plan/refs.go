package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// refRules says which references an expression may make, by where it is.
type refRules struct {
	// what names the place, for messages: "a tunnel argument".
	what string
	// static: the value must be known when the plan is loaded, so no task
	// results and nothing of the host.
	static bool
	each   bool // each.key / each.value (for_each)
	count  bool // count.index
	host   bool // host.name, host.facts, …
	self   bool // this task's own result (until, changed_when)
	// task allows task.NAME for the tasks before it in its list.
	task *Task
	// list, when set, is the list the expression is in: tasks.LIST.* may
	// not name it.
	list *TaskList
}

var rootSymbols = []string{"var", "local", "tunnel", "group", "module", "path", "tasks", "task", "host", "each", "count", "self"}

// stepName returns the name at step i of a traversal (an attribute, or an
// index by a literal string), or "".
func stepName(t hcl.Traversal, i int) (string, hcl.Range) {
	if i >= len(t) {
		return "", hcl.Range{}
	}
	switch s := t[i].(type) {
	case hcl.TraverseRoot:
		return s.Name, s.SrcRange
	case hcl.TraverseAttr:
		return s.Name, s.SrcRange
	}
	return "", t[i].SourceRange()
}

// checkRefs reports every reference of expr that rules do not allow or
// that names nothing declared.
func (in *instance) checkRefs(expr hcl.Expression, r refRules) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		diags = append(diags, in.checkTraversal(t, r)...)
	}
	return diags
}

func (in *instance) checkTraversal(t hcl.Traversal, r refRules) hcl.Diagnostics {
	root := t.RootName()
	rng := t.SourceRange()
	bad := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
	}
	notHere := func(name, why string) hcl.Diagnostics {
		return bad("Invalid reference", fmt.Sprintf("%s cannot be used in %s: %s", name, r.what, why))
	}
	name, nameRng := stepName(t, 1)
	if len(t) > 1 {
		rng = hcl.RangeBetween(t[0].SourceRange(), nameRng)
	}
	needName := func(kind string) hcl.Diagnostics {
		return bad("Invalid reference", fmt.Sprintf("A reference to %s must name one, as %s.NAME.", kind, root))
	}
	switch root {
	case "var":
		if name == "" {
			return needName("an input variable")
		}
		if _, ok := in.variables[name]; ok || (name == "on" && in.addr != "") {
			return nil
		}
		return bad("Reference to undeclared input variable",
			fmt.Sprintf("An input variable named %q has not been declared.%s Declare it with a variable %q {} block.",
				name, didYouMean(name, sortedKeys(in.variables)), name))
	case "local":
		if name == "" {
			return needName("a local value")
		}
		l, ok := in.locals[name]
		if !ok {
			return bad("Reference to undeclared local value",
				fmt.Sprintf("A local value named %q has not been declared.%s", name, didYouMean(name, sortedKeys(in.locals))))
		}
		if r.static && in.vals.dynLocals[l.name] {
			return notHere("local."+name, "it reads task results, which are only known during the run.")
		}
		return nil
	case "tunnel":
		if name == "" {
			return needName("a tunnel")
		}
		tname, tr := stepName(t, 2)
		if tname == "" {
			return bad("Invalid reference", fmt.Sprintf("A reference to a tunnel names its kind and name, as tunnel.%s.NAME.", name))
		}
		rng = hcl.RangeBetween(rng, tr)
		if _, ok := in.tunnels[name+"."+tname]; ok {
			return nil
		}
		var all []string
		for k := range in.tunnels {
			all = append(all, k)
		}
		sort.Strings(all)
		return bad("Reference to undeclared tunnel",
			fmt.Sprintf("No tunnel %q %q is declared in this module.%s", name, tname, didYouMean(name+"."+tname, all)))
	case "group":
		if name == "" {
			return needName("a group")
		}
		if _, ok := in.groups[name]; ok {
			return nil
		}
		return bad("Reference to undeclared group",
			fmt.Sprintf("No group %q is declared in this module.%s", name, didYouMean(name, sortedKeys(in.groups))))
	case "module":
		if name == "" {
			return needName("a module")
		}
		call, ok := in.calls[name]
		if !ok {
			return bad("Reference to undeclared module",
				fmt.Sprintf("No module %q is declared in this module.%s", name, didYouMean(name, sortedKeys(in.calls))))
		}
		out, outRng := stepName(t, 2)
		if out == "" || call.inst == nil {
			return nil
		}
		rng = hcl.RangeBetween(rng, outRng)
		o, ok := call.inst.outputs[out]
		if !ok {
			return bad("Reference to undeclared output value",
				fmt.Sprintf("The module %q has no output named %q.%s", name, out, didYouMean(out, sortedKeys(call.inst.outputs))))
		}
		if r.static && call.inst.vals.dynOutputs[o.Name] {
			return notHere(fmt.Sprintf("module.%s.%s", name, out), "it reads task results, which are only known during the run.")
		}
		return nil
	case "path":
		switch name {
		case "module", "root", "cwd":
			return nil
		}
		return bad("Invalid reference", fmt.Sprintf("path.%s is not defined: use path.module, path.root or path.cwd.%s", name, didYouMean(name, []string{"module", "root", "cwd"})))
	case "tasks":
		if r.static {
			return notHere("tasks", "task results are only known during the run, and this must be known when the plan is loaded.")
		}
		if name == "" {
			return needName("a task list")
		}
		l, ok := in.lists[name]
		if !ok {
			return bad("Reference to undeclared task list",
				fmt.Sprintf("No task list %q is declared in this module.%s", name, didYouMean(name, sortedKeys(in.lists))))
		}
		task, tr := stepName(t, 2)
		if task == "" {
			return bad("Invalid reference", fmt.Sprintf("A reference to task results names the task, as tasks.%s.TASK.", name))
		}
		rng = hcl.RangeBetween(rng, tr)
		if l.task(task) == nil {
			return bad("Reference to undeclared task",
				fmt.Sprintf("The task list %q has no task named %q.%s", name, task, didYouMean(task, l.taskNames())))
		}
		if r.list == l {
			return bad("Invalid reference",
				fmt.Sprintf("tasks.%s.%s reads every host's result of a task in this same list, which would wait for itself. Use task.%s for this host's result.", name, task, task))
		}
		return nil
	case "task":
		if r.task == nil {
			return notHere("task", "task.NAME is a host's result of an earlier task, readable only inside a task.")
		}
		if name == "" {
			return needName("a task")
		}
		list := r.task.List
		idx, self := -1, -1
		for i, t := range list.Tasks {
			if t.Name == name {
				idx = i
			}
			if t == r.task {
				self = i
			}
		}
		switch {
		case idx < 0:
			return bad("Reference to undeclared task",
				fmt.Sprintf("The task list %q has no task named %q.%s", list.Name, name, didYouMean(name, list.taskNames())))
		case idx == self:
			return bad("Self-referential task", fmt.Sprintf("A task cannot read its own result as task.%s; until and changed_when read it as self.", name))
		case idx > self:
			return bad("Reference to a later task",
				fmt.Sprintf("The task %q comes after %q in the list %q; a task can only read the results of the tasks before it.", name, r.task.Name, list.Name))
		}
		return nil
	case "host":
		if !r.host {
			return notHere("host", "the host is only known while a task runs on it, or in a group's where.")
		}
		switch name {
		case "name", "addr", "kind", "facts", "":
			return nil
		}
		return bad("Unsupported attribute", fmt.Sprintf("host has no attribute %q: it has name, addr, kind and facts.%s", name, didYouMean(name, []string{"name", "addr", "kind", "facts"})))
	case "each":
		if !r.each {
			return notHere("each", "each.key and each.value exist only in a block that sets for_each.")
		}
		if name != "key" && name != "value" && name != "" {
			return bad("Unsupported attribute", fmt.Sprintf("each has only key and value, not %q.", name))
		}
		return nil
	case "count":
		if !r.count {
			return notHere("count", "count.index exists only in a tunnel block that sets count.")
		}
		if name != "index" && name != "" {
			return bad("Unsupported attribute", fmt.Sprintf("count has only index, not %q.", name))
		}
		return nil
	case "self":
		if !r.self {
			return notHere("self", "self is a task's own result, readable only in its until and changed_when.")
		}
		return nil
	}
	return bad("Unknown variable",
		fmt.Sprintf("There is no variable named %q.%s References start with one of: %s.", root, didYouMean(root, rootSymbols), strings.Join(rootSymbols, ", ")))
}

func (l *TaskList) task(name string) *Task {
	for _, t := range l.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (l *TaskList) taskNames() []string {
	out := make([]string, len(l.Tasks))
	for i, t := range l.Tasks {
		out[i] = t.Name
	}
	return out
}
