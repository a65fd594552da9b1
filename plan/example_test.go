package plan_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

func writeExamplePlan(src string) string {
	dir, _ := os.MkdirTemp("", "plan-example")
	os.WriteFile(filepath.Join(dir, "main.chop.hcl"), []byte(src), 0o644)
	return dir
}

func ExampleLoad() {
	dir := writeExamplePlan(`
tunnel "ssh" "web" {
  for_each = toset(["web1", "web2"])
  host     = "${each.key}.internal"
}
tasks "deploy" {
  on = tunnel.ssh.web
  task "exec" "restart" {
    command = ["systemctl", "restart", "app"]
  }
}
`)
	defer os.RemoveAll(dir)
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: plantest.Schemas()})
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	for _, l := range cfg.TaskLists {
		for _, h := range l.On {
			fmt.Println(l.Addr, "on", h.Addr, "host", h.Args.GetAttr("host").AsString())
		}
	}
	// Output:
	// tasks.deploy on tunnel.ssh.web["web1"] host web1.internal
	// tasks.deploy on tunnel.ssh.web["web2"] host web2.internal
}

// The engine evaluates each task's arguments for each host when it runs it,
// with the results recorded so far. Without results (plan mode) what reads
// them is unknown.
func ExampleConfig_TaskEvalContext() {
	dir := writeExamplePlan(`
tunnel "local" "me" {}
tasks "deploy" {
  on = tunnel.local.me
  task "exec" "version" {
    command = "cat /srv/app/VERSION"
  }
  task "exec" "announce" {
    command = ["echo", "now at ${trimspace(task.version.stdout)} on ${host.name}"]
    when    = task.version.rc == 0
  }
}
`)
	defer os.RemoveAll(dir)
	cfg, _ := plan.Load(dir, plan.LoadOptions{Schemas: plantest.Schemas()})
	announce := cfg.TaskList("tasks.deploy").Tasks[1]
	me := cfg.Host("me")

	ctx := cfg.TaskEvalContext(announce, plan.HostEval{Host: me})
	args, _ := announce.EvalArgs(ctx)
	fmt.Println("plan mode, command known:", args.GetAttr("command").IsWhollyKnown())

	results := plan.Results{
		"tasks.deploy.version": {"me": cty.ObjectVal(map[string]cty.Value{
			"rc": cty.Zero, "stdout": cty.StringVal("1.2.3\n"), "stderr": cty.StringVal(""),
			"duration_ms": cty.NumberIntVal(3), "changed": cty.True, "failed": cty.False, "skipped": cty.False,
		})},
	}
	ctx = cfg.TaskEvalContext(announce, plan.HostEval{Host: me, Results: results})
	run, _ := plan.EvalCondition(announce.When, ctx)
	args, _ = announce.EvalArgs(ctx)
	fmt.Println("run:", run.True())
	fmt.Println(args.GetAttr("command").Index(cty.NumberIntVal(1)).AsString())
	// Output:
	// plan mode, command known: false
	// run: true
	// now at 1.2.3 on me
}
