package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

// largePlan writes a plan of 1,000 hosts (one for_each tunnel) and 100
// tasks in 10 lists, each list after the one before, tasks reading the
// results of earlier tasks and of other lists.
func largePlan(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`variable "domain" { default = "example.com" }
locals {
  hosts = toset([for i in range(1000) : format("host%04d", i)])
}
tunnel "ssh" "bastion" { host = "bastion.${var.domain}" }
tunnel "ssh" "fleet" {
  for_each = local.hosts
  host     = "${each.key}.${var.domain}"
  user     = "deploy"
  via      = tunnel.ssh.bastion
}
group "fleet" { members = tunnel.ssh.fleet }
group "even" {
  members = [for k, a in tunnel.ssh.fleet : a if tonumber(substr(k, 4, 4)) % 2 == 0]
}
`)
	for l := 0; l < 10; l++ {
		fmt.Fprintf(&b, "tasks \"l%d\" {\n  on = group.fleet\n  batch = [1, \"10%%\", \"50%%\"]\n", l)
		if l > 0 {
			fmt.Fprintf(&b, "  depends_on = [tasks.l%d]\n", l-1)
		}
		for t := 0; t < 10; t++ {
			fmt.Fprintf(&b, "  task \"exec\" \"t%d\" {\n    command = [\"echo\", host.name, \"%d\"]\n", t, t)
			if t > 0 {
				fmt.Fprintf(&b, "    when = task.t%d.rc == 0\n", t-1)
			}
			if l > 0 && t == 0 {
				fmt.Fprintf(&b, "    env = { PREV = tasks.l%d.t9[host.name].stdout }\n", l-1)
			}
			b.WriteString("  }\n")
		}
		b.WriteString("}\n")
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "large.chop.hcl"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkValidateLarge is `chopplan validate` of 1,000 hosts and 100
// tasks: everything Load checks, with no connection.
func BenchmarkValidateLarge(b *testing.B) {
	dir := largePlan(b)
	opts := plan.LoadOptions{Schemas: plantest.Schemas()}
	b.ReportAllocs()
	for b.Loop() {
		cfg, diags := plan.Load(dir, opts)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if len(cfg.Tunnels) != 1001 || len(cfg.TaskLists) != 10 {
			b.Fatalf("%d tunnels, %d lists", len(cfg.Tunnels), len(cfg.TaskLists))
		}
	}
}

// BenchmarkTaskEvalContext is the engine's per-host cost: one task's
// arguments for one host, with every host's results of the list before.
func BenchmarkTaskEvalContext(b *testing.B) {
	dir := largePlan(b)
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: plantest.Schemas()})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	results := plan.Results{}
	byHost := map[string]ctyValue{}
	for _, h := range cfg.Tunnels {
		byHost[h.Name] = execResult("out-" + h.Name)
	}
	results["tasks.l0.t9"] = byHost
	task := cfg.TaskList("tasks.l1").Tasks[0]
	host := cfg.Tunnels[500]
	b.ReportAllocs()
	for b.Loop() {
		ctx := cfg.TaskEvalContext(task, plan.HostEval{Host: host, Results: results})
		if _, diags := task.EvalArgs(ctx); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
