package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

type ctyValue = cty.Value

func execResult(stdout string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"rc": cty.Zero, "stdout": cty.StringVal(stdout), "stderr": cty.StringVal(""),
		"duration_ms": cty.Zero, "changed": cty.True, "failed": cty.False, "skipped": cty.False,
	})
}

func loadString(t *testing.T, src string) *plan.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.chop.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: plantest.Schemas()})
	if diags.HasErrors() {
		var b []byte
		w := hcl.NewDiagnosticTextWriter(writerFunc(func(p []byte) (int, error) { b = append(b, p...); return len(p), nil }), cfg.Files, 0, false)
		w.WriteDiagnostics(diags)
		t.Fatalf("load:\n%s", b)
	}
	return cfg
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

const evalPlan = `
variable "token" {
  type      = string
  sensitive = true
  default   = "t0ken"
}
tunnel "local" "a" {}
tunnel "local" "b" {}
locals {
  outs = { for h, r in tasks.first.run : h => r.stdout }
}
tasks "first" {
  on = [tunnel.local.a, tunnel.local.b]
  task "exec" "run" { command = ["uname", "-r"] }
}
tasks "second" {
  on = tunnel.local.a
  task "exec" "use" {
    command = ["echo", task.before.stdout, tasks.first.run["b"].stdout, local.outs["a"], host.facts.os]
    env     = { TOKEN = var.token }
    when    = task.before.rc == 0
  }
}
`

func TestTaskEvalContext(t *testing.T) {
	src := evalPlan
	// "use" reads "before", an earlier task of its own list.
	src = replaceOnce(src, `  task "exec" "use" {`, "  task \"exec\" \"before\" { command = \"true\" }\n  task \"exec\" \"use\" {")
	cfg := loadString(t, src)
	second := cfg.TaskList("tasks.second")
	if got := second.DependsOn; len(got) != 1 || got[0] != "tasks.first" {
		t.Fatalf("tasks.second depends on %v, want [tasks.first]", got)
	}
	use := second.Tasks[1]
	a := cfg.Host("a")

	// Plan mode: nothing has run, so what reads results is unknown.
	ctx := cfg.TaskEvalContext(use, plan.HostEval{Host: a})
	args, diags := use.EvalArgs(ctx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cmd := args.GetAttr("command")
	if cmd.IsWhollyKnown() {
		t.Errorf("command should be unknown in plan mode: %#v", cmd)
	}
	if !plan.IsSensitive(args.GetAttr("env")) {
		t.Errorf("env.TOKEN should be sensitive: %#v", args.GetAttr("env"))
	}
	when, _ := plan.EvalCondition(use.When, ctx)
	if when.IsKnown() {
		t.Errorf("when should be unknown in plan mode, is %#v", when)
	}

	// Apply mode: results are known.
	results := plan.Results{
		"tasks.first.run":     {"a": execResult("5.10-a"), "b": execResult("5.10-b")},
		"tasks.second.before": {"a": execResult("before-a")},
	}
	facts := cty.ObjectVal(map[string]cty.Value{"os": cty.StringVal("linux")})
	ctx = cfg.TaskEvalContext(use, plan.HostEval{Host: a, Results: results, Facts: facts})
	args, diags = use.EvalArgs(ctx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := cty.TupleVal([]cty.Value{cty.StringVal("echo"), cty.StringVal("before-a"), cty.StringVal("5.10-b"), cty.StringVal("5.10-a"), cty.StringVal("linux")})
	if got := args.GetAttr("command"); !got.RawEquals(want) {
		t.Errorf("command = %#v\nwant %#v", got, want)
	}
	when, _ = plan.EvalCondition(use.When, ctx)
	if !when.RawEquals(cty.True) {
		t.Errorf("when = %#v", when)
	}
	if red := plan.Redact(args); red.GetAttr("env").GetAttr("TOKEN").AsString() != plan.Redacted {
		t.Errorf("Redact left the token: %#v", red)
	}
}

func TestEvalForEachAndOutputs(t *testing.T) {
	cfg := loadString(t, `
tunnel "local" "me" {}
tasks "pkgs" {
  on = tunnel.local.me
  task "exec" "install" {
    for_each = toset(["git", "curl"])
    command  = ["apt-get", "install", each.value]
  }
  task "exec" "token" {
    command   = "cat /token"
    sensitive = true
  }
}
output "installed" { value = keys(tasks.pkgs.install) }
output "token" {
  value     = tasks.pkgs.token["me"].stdout
  sensitive = true
}
`)
	task := cfg.TaskList("tasks.pkgs").Tasks[0]
	me := cfg.Host("me")
	ctx := cfg.TaskEvalContext(task, plan.HostEval{Host: me})
	elems, known, diags := task.EvalForEach(ctx)
	if diags.HasErrors() || !known || len(elems) != 2 || elems[0].Key.AsString() != "curl" {
		t.Fatalf("for_each: %v %v %v", elems, known, diags)
	}
	ctx = cfg.TaskEvalContext(task, plan.HostEval{Host: me, Each: elems[1]})
	args, _ := task.EvalArgs(ctx)
	if got := args.GetAttr("command").Index(cty.NumberIntVal(2)).AsString(); got != "git" {
		t.Errorf("each.value = %q", got)
	}

	outs, diags := cfg.EvalOutputs(plan.Results{
		"tasks.pkgs.install": {"me": cty.ObjectVal(map[string]cty.Value{"git": execResult(""), "curl": execResult("")})},
		"tasks.pkgs.token":   {"me": execResult("s3cret")},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := outs["installed"]; !got.RawEquals(cty.TupleVal([]cty.Value{cty.StringVal("me")})) {
		t.Errorf("installed = %#v", got)
	}
	if !plan.IsSensitive(outs["token"]) {
		t.Errorf("token output should be sensitive: %#v", outs["token"])
	}
}

func TestResolveHosts(t *testing.T) {
	cfg := loadString(t, `
tunnel "local" "a" {}
tunnel "local" "b" {}
tunnel "local" "c" {}
group "all" { members = [tunnel.local.a, tunnel.local.b, tunnel.local.c] }
group "debian" {
  members = group.all
  where   = host.facts.os_family == "debian"
}
group "debian_or_c" { members = setunion(group.debian, [tunnel.local.c]) }
tasks "t" {
  on = group.debian_or_c
  task "ping" "p" {}
}
tasks "u" {
  on = group.all
  task "ping" "p" {}
}
`)
	facts := map[string]cty.Value{
		"a": cty.ObjectVal(map[string]cty.Value{"os_family": cty.StringVal("debian")}),
		"b": cty.ObjectVal(map[string]cty.Value{"os_family": cty.StringVal("redhat")}),
		"c": cty.ObjectVal(map[string]cty.Value{"os_family": cty.StringVal("redhat")}),
	}
	t0, u := cfg.TaskList("tasks.t"), cfg.TaskList("tasks.u")
	if !t0.Filtered || u.Filtered || len(t0.On) != 3 {
		t.Fatalf("filtered=%v/%v on=%d", t0.Filtered, u.Filtered, len(t0.On))
	}
	hosts, diags := cfg.ResolveHosts(facts)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var names []string
	for _, h := range hosts[t0] {
		names = append(names, h.Name)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "c" {
		t.Errorf("tasks.t runs on %v, want [a c]", names)
	}
	if len(hosts[u]) != 3 {
		t.Errorf("tasks.u runs on %d hosts", len(hosts[u]))
	}
}

func TestModuleExpansion(t *testing.T) {
	dir := filepath.Join("..", "testdata", "diagnostics", "module_ok")
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: plantest.Schemas()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var addrs []string
	for _, l := range cfg.TaskLists {
		addrs = append(addrs, l.Addr)
	}
	if len(addrs) != 2 || addrs[0] != "module.nginx.tasks.install" || addrs[1] != "tasks.after" {
		t.Fatalf("lists %v", addrs)
	}
	install := cfg.TaskList("module.nginx.tasks.install")
	if len(install.On) != 2 || install.Tasks[1].Addr != "module.nginx.tasks.install.conf" {
		t.Errorf("module list: on %d hosts, tasks %v", len(install.On), install.Tasks[1].Addr)
	}
	after := cfg.TaskList("tasks.after")
	if len(after.DependsOn) != 1 || after.DependsOn[0] != "module.nginx.tasks.install" {
		t.Errorf("depends_on = %v", after.DependsOn)
	}
	ctx := cfg.TaskEvalContext(after.Tasks[0], plan.HostEval{Host: cfg.Host("web1")})
	args, _ := after.Tasks[0].EvalArgs(ctx)
	if got := args.GetAttr("command").Index(cty.NumberIntVal(2)).AsString(); got != "http://localhost:8080/" {
		t.Errorf("module output in an argument: %q", got)
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

func TestListsFollowTheirDependencies(t *testing.T) {
	cfg := loadString(t, `
tunnel "local" "me" {}
tasks "report" {
  on = tunnel.local.me
  task "exec" "show" { command = ["echo", tasks.gather.facts["me"].stdout] }
}
tasks "cleanup" {
  on = tunnel.local.me
  task "exec" "rm" { command = "true" }
}
tasks "gather" {
  on = tunnel.local.me
  task "exec" "facts" { command = "uname -a" }
}
`)
	var order []string
	for _, l := range cfg.TaskLists {
		order = append(order, l.Name)
	}
	// gather moves up just before report, which reads it; the rest keeps
	// plan order.
	if fmt.Sprint(order) != "[gather report cleanup]" {
		t.Errorf("execution order %v, want plan order moved only as needed: [gather report cleanup]", order)
	}
}

func TestReadsFacts(t *testing.T) {
	base := "tunnel \"local\" \"me\" {}\n"
	for src, want := range map[string]bool{
		base + `tasks "a" {
  on = tunnel.local.me
  task "exec" "e" { command = ["echo", host.name] }
}`: false,
		base + `tasks "a" {
  on = tunnel.local.me
  task "exec" "e" { command = ["echo", host.facts.os] }
}`: true,
		base + `tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["true"]
    when    = host.facts.os_family == "debian"
  }
}`: true,
		base + `group "deb" {
  members = [tunnel.local.me]
  where   = host.facts.os_family == "debian"
}
tasks "a" {
  on = group.deb
  task "ping" "p" {}
}`: true,
	} {
		if got := loadString(t, src).ReadsFacts(); got != want {
			t.Errorf("ReadsFacts() = %v, want %v for\n%s", got, want, src)
		}
	}
}

// A task is stable when its arguments evaluate alike at any point of a
// run: no task results read, directly or through a local, and no local
// file read.
func TestTaskStable(t *testing.T) {
	cfg := loadString(t, `
tunnel "local" "me" {}
variable "v" { default = "x" }
locals {
  fixed = upper(var.v)
  reads = tasks.a.first.stdout
}
tasks "z" {
  on = tunnel.local.me
  task "exec" "first" { command = ["true"] }
}
tasks "a" {
  on = tunnel.local.me
  task "exec" "first"     { command = ["echo", "literal"] }
  task "exec" "vars"      { command = ["echo", var.v, local.fixed, host.name] }
  task "exec" "earlier"   { command = ["echo", task.first.stdout] }
  task "exec" "other"     { command = ["echo", tasks.z.first.stdout] }
  task "exec" "via_local" { command = ["echo", local.reads] }
  task "exec" "file"      { command = ["echo", fileexists("x")] }
  task "exec" "when"      {
    command = ["true"]
    when    = task.first.rc == 0
  }
}`)
	want := map[string]bool{"first": true, "vars": true, "earlier": false, "other": false, "via_local": false, "file": false, "when": false}
	for _, l := range cfg.TaskLists {
		if l.Name != "a" {
			continue
		}
		for _, tk := range l.Tasks {
			if got := tk.Stable(); got != want[tk.Name] {
				t.Errorf("%s: Stable() = %v, want %v", tk.Name, got, want[tk.Name])
			}
		}
	}
}
