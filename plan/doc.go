// Package plan reads chopplan plans: HCL, HCL-JSON and YAML files of
// variables, locals, outputs, tunnels, groups, task lists and modules. It
// checks everything that can be checked without connecting, reporting
// problems as hcl.Diagnostics with source ranges, and produces a static
// Config whose task expressions the engine evaluates per host. It knows
// nothing of hosts or networks beyond what the plan says, and imports none
// of chopplan's other packages: the argument specs of builtins and tunnel
// kinds come through the Schemas interface.
//
// # Loading
//
// Load reads a directory of *.chop.hcl, *.chop.json and *.chop.yaml files
// (or one file), its modules and its variable values (LoadOptions.Vars for
// -var and -var-file, LoadOptions.Env for CHOP_VAR_name, the automatic
// chopplan.chopvars.hcl and *.auto.chopvars.hcl files). It decodes in two
// stages: the top-level blocks with a fixed schema, then each tunnel's and
// task's arguments with the spec of its kind or builtin. Values known
// before the run (variables, locals, tunnels, groups, module outputs) are
// evaluated in the order their references require; task arguments are kept
// as expressions and checked once with everything run-time unknown, which
// finds type errors before anything runs. Every problem is reported, not
// only the first; the Config is returned even then, so Config.Files can
// print the diagnostics with their source.
//
// # What the engine gets
//
//   - Config.Tunnels: every tunnel instance (for_each and count expanded),
//     with its address, host name, kind, converted arguments (sensitive
//     ones marked) and the tunnel it is reached through (Via).
//   - Config.Groups: members resolved to tunnels; Where kept for run time.
//   - Config.TaskLists in execution order, each with its hosts (On),
//     DependsOn (the lists every host of which must finish first: depends_on
//     and lists whose results it reads), Batch, the failure budget, Timeout,
//     Tags and its Tasks. A Task has its Builtin and spec, its argument
//     expressions, and the meta-arguments: When, ForEach, Until and
//     ChangedWhen as expressions; Retries, Delay, Timeout, AllowFailure,
//     CheckMode and Sensitive decoded once.
//   - Config.Graph: the task-list DAG, with WriteDOT and WriteHostsDOT.
//   - Config.ResolveHosts: each list's hosts once facts are known, for lists
//     whose hosts a group's where narrows (TaskList.Filtered).
//   - Config.EvalOutputs: the root module's outputs over a run's results.
//
// Modules are expanded in place: their tunnels, groups and lists carry
// addresses prefixed "module.NAME.".
//
// # Evaluating a task for a host
//
// Results holds what has run: by task address, then host name. A task's
// result is its builtin's result object with changed, failed and skipped
// (bool) among its attributes; references to a task that has not run are
// unknown, which is how plan and check mode evaluate.
//
//	ctx := cfg.TaskEvalContext(task, plan.HostEval{Host: h, Facts: facts, Results: results})
//	if run, _ := plan.EvalCondition(task.When, ctx); run.IsKnown() && !run.True() {
//		// skipped on this host
//	}
//	elems, known, diags := task.EvalForEach(ctx) // one nil element without for_each
//	for _, e := range elems {
//		ctx := cfg.TaskEvalContext(task, plan.HostEval{Host: h, Facts: facts, Results: results, Each: e})
//		args, diags := task.EvalArgs(ctx) // an object with every argument of the spec
//		...                               // call task.Builtin with args.UnmarkDeep()
//	}
//
// Sensitive values carry the Sensitive mark through every expression;
// Redact replaces them before anything is printed, logged or journaled.
package plan
