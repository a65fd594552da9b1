package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/plan"
)

// loadPlan writes src as a plan in a temp dir and loads it; ORDER in src
// becomes the path of a file tasks append to, to show the order of events.
func loadPlan(t *testing.T, src string, vars ...plan.VarValue) (*plan.Config, string) {
	t.Helper()
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	src = strings.ReplaceAll(src, "ORDER", order)
	if err := os.WriteFile(filepath.Join(dir, "main.chop.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: engine.Schemas(nil), Vars: vars})
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	return cfg, order
}

func lines(t *testing.T, path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

// events collects a run's events.
type events struct {
	mu  sync.Mutex
	all []engine.Event
}

func (e *events) Event(ev engine.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) status(host, task string) engine.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Type == engine.EventTask && ev.Host == host && ev.Task == task {
			return ev.Status
		}
	}
	return ""
}

func apply(t *testing.T, cfg *plan.Config, opts engine.Options) (*engine.Result, *events) {
	t.Helper()
	ev := &events{}
	opts.Sink = ev
	res, err := engine.Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, ev
}

const threeHosts = `
tunnel "local" "h" {
  for_each = toset(["h1", "h2", "h3"])
}
`

func TestHostsRunAheadWithoutBarrier(t *testing.T) {
	// h2's first task waits for a file that h1 writes in the second list:
	// this only finishes if h1 starts list b while h2 is still in list a.
	cfg, order := loadPlan(t, threeHosts+`
tasks "a" {
  on = [tunnel.local.h["h1"], tunnel.local.h["h2"]]
  task "wait_for" "gate" {
    path    = host.name == "h2" ? "ORDER.gate" : "/"
    timeout = "20s"
  }
}
tasks "b" {
  on = [tunnel.local.h["h1"]]
  task "exec" "open" {
    command = "touch ORDER.gate"
  }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("h2 waited for nothing: %v", ev.all)
	}
	_ = order
}

func TestDependsOnIsABarrier(t *testing.T) {
	cfg, order := loadPlan(t, threeHosts+`
tasks "a" {
  on = tunnel.local.h
  task "exec" "mark" {
    command = "sleep 0.$(echo ${host.name} | tr -d h); echo a-${host.name} >> ORDER"
  }
}
tasks "b" {
  on         = tunnel.local.h
  depends_on = [tasks.a]
  task "exec" "mark" {
    command = "echo b-${host.name} >> ORDER"
  }
}
`)
	res, _ := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatal("run failed")
	}
	got := lines(t, order)
	if len(got) != 6 {
		t.Fatalf("order = %v", got)
	}
	for i, l := range got {
		if (i < 3) != strings.HasPrefix(l, "a-") {
			t.Fatalf("a host started b before every host finished a: %v", got)
		}
	}
}

func TestBatchesAndFailureBudget(t *testing.T) {
	cfg, order := loadPlan(t, threeHosts+`
tasks "roll" {
  on           = tunnel.local.h
  batch        = 1
  max_failures = 0
  task "exec" "mark" {
    command = "echo start-${host.name} >> ORDER; echo end-${host.name} >> ORDER; test ${host.name} != h2"
  }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	got := strings.Join(lines(t, order), " ")
	if got != "start-h1 end-h1 start-h2 end-h2" {
		t.Fatalf("order = %q", got)
	}
	if !res.Failed() || ev.status("h2", "tasks.roll.mark") != engine.StatusFailed || ev.status("h3", "tasks.roll.mark") != engine.StatusNotRun {
		t.Fatalf("h2 %s, h3 %s", ev.status("h2", "tasks.roll.mark"), ev.status("h3", "tasks.roll.mark"))
	}
	var starts []string
	for _, e := range ev.all {
		if e.Type == engine.EventListStart {
			starts = append(starts, strings.Join(e.Hosts, ","))
		}
	}
	if strings.Join(starts, " ") != "h1 h2" {
		t.Fatalf("batches started: %q", starts)
	}
}

func TestFailedHostDropsOutOthersGoOn(t *testing.T) {
	cfg, _ := loadPlan(t, threeHosts+`
tasks "a" {
  on = tunnel.local.h
  task "exec" "maybe" {
    command = "test ${host.name} != h1"
  }
  task "exec" "after" {
    command = ["true"]
  }
  task "exec" "tolerated" {
    command       = ["false"]
    allow_failure = true
  }
  task "exec" "last" {
    command = ["true"]
  }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if !res.Failed() {
		t.Fatal("no failure reported")
	}
	if s := ev.status("h1", "tasks.a.after"); s != engine.StatusNotRun {
		t.Fatalf("h1 ran on after failing: %s", s)
	}
	for _, h := range []string{"h2", "h3"} {
		if ev.status(h, "tasks.a.tolerated") != engine.StatusFailed || ev.status(h, "tasks.a.last") != engine.StatusChanged {
			t.Fatalf("%s: tolerated %s, last %s", h, ev.status(h, "tasks.a.tolerated"), ev.status(h, "tasks.a.last"))
		}
	}
	if r := res.Recap["h1"]; r.Failed != 1 || r.Changed != 0 {
		t.Fatalf("h1 recap %+v", r)
	}
}

func TestWhenForEachRetriesUntil(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "count" {
    command = "echo x >> ORDER; wc -l < ORDER"
    retries = 5
    until   = trimspace(self.stdout) == "3"
  }
  task "exec" "each" {
    for_each = toset(["p", "q"])
    command  = ["echo", "${each.key}-${trimspace(task.count.stdout)}"]
  }
  task "exec" "never" {
    command = ["false"]
    when    = task.each["p"].stdout != "p-3\n"
  }
}
output "each" {
  value = { for k, r in tasks.a.each["me"] : k => trimspace(r.stdout) }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	if n := len(lines(t, order)); n != 3 {
		t.Fatalf("count ran %d times, want 3", n)
	}
	if ev.status("me", "tasks.a.never") != engine.StatusSkipped {
		t.Fatalf("never: %s", ev.status("me", "tasks.a.never"))
	}
	out := res.Outputs["each"]
	if out.GetAttr("p").AsString() != "p-3" || out.GetAttr("q").AsString() != "q-3" {
		t.Fatalf("outputs = %#v", out)
	}
}

// Tasks read the earlier results they name, however many and in whatever
// order; a task that refers to nothing (literals and functions only) runs
// in the module's static context.
func TestEarlierResultsReadByName(t *testing.T) {
	cfg, _ := loadPlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "first" {
    command = ["echo", upper("one")]
  }
  task "exec" "second" {
    command = ["echo", "two"]
  }
  task "exec" "one" {
    command = ["echo", trimspace(task.first.stdout)]
  }
  task "exec" "both" {
    command = ["echo", "${trimspace(task.second.stdout)}+${trimspace(task.first.stdout)}"]
  }
}
output "got" {
  value = [for r in [tasks.a.first, tasks.a.one, tasks.a.both] : trimspace(r["me"].stdout)]
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	got := res.Outputs["got"]
	for i, want := range []string{"ONE", "ONE", "two+ONE"} {
		if v := got.Index(cty.NumberIntVal(int64(i))).AsString(); v != want {
			t.Fatalf("result %d: %q, want %q", i, v, want)
		}
	}
}

func TestCheckModeChangesNothing(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "file" "f" {
    path    = "ORDER"
    content = "new\n"
  }
  task "exec" "e" {
    command = "echo ran >> ORDER.exec"
  }
}
`)
	res, ev := apply(t, cfg, engine.Options{Check: true})
	if res.Failed() || !res.Changed() {
		t.Fatalf("check run: failed %v changed %v", res.Failed(), res.Changed())
	}
	if _, err := os.Stat(order); err == nil {
		t.Fatal("check mode wrote the file")
	}
	if _, err := os.Stat(order + ".exec"); err == nil {
		t.Fatal("check mode ran the command")
	}
	if ev.status("me", "tasks.a.f") != engine.StatusChanged || ev.status("me", "tasks.a.e") != engine.StatusWouldRun {
		t.Fatalf("f %s, e %s", ev.status("me", "tasks.a.f"), ev.status("me", "tasks.a.e"))
	}
}

func TestUnreachableHost(t *testing.T) {
	cfg, _ := loadPlan(t, `
tunnel "local" "ok" {}
tunnel "sudo" "ghost" {
  user = "no-such-user-q"
}
tasks "a" {
  on = [tunnel.local.ok, tunnel.sudo.ghost]
  task "exec" "e" {
    command = ["true"]
  }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if !res.Unreachable() || res.Failed() {
		t.Fatalf("unreachable %v failed %v", res.Unreachable(), res.Failed())
	}
	if ev.status("ok", "tasks.a.e") != engine.StatusChanged {
		t.Fatalf("the reachable host: %s", ev.status("ok", "tasks.a.e"))
	}
}

func TestLimitTargetTags(t *testing.T) {
	cfg, _ := loadPlan(t, threeHosts+`
tasks "base" {
  on   = tunnel.local.h
  tags = ["setup"]
  task "ping" "p" {}
}
tasks "app" {
  on         = tunnel.local.h
  depends_on = [tasks.base]
  tags       = ["deploy"]
  task "ping" "p" {}
}
tasks "other" {
  on   = tunnel.local.h
  tags = ["deploy"]
  task "ping" "p" {}
}
`)
	ran := func(opts engine.Options) map[string]bool {
		_, ev := apply(t, cfg, opts)
		out := map[string]bool{}
		for _, e := range ev.all {
			if e.Type == engine.EventTask {
				out[e.Host+" "+e.Task] = true
			}
		}
		return out
	}
	got := ran(engine.Options{Limit: []string{"h[12]"}, Targets: []string{"tasks.app"}})
	want := map[string]bool{"h1 tasks.base.p": true, "h2 tasks.base.p": true, "h1 tasks.app.p": true, "h2 tasks.app.p": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("-limit h[12] -target tasks.app ran %v", got)
	}
	got = ran(engine.Options{Tags: []string{"deploy"}, Limit: []string{"h3"}})
	want = map[string]bool{"h3 tasks.app.p": true, "h3 tasks.other.p": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("-tags deploy -limit h3 ran %v", got)
	}
	if _, err := engine.Run(context.Background(), cfg, engine.Options{Targets: []string{"tasks.nope"}}); err == nil {
		t.Fatal("an unknown -target was accepted")
	}
}

// A group's where is decided on each host's facts at run time.
func TestGroupWhereOnFacts(t *testing.T) {
	testenv.Root(t)
	user := testenv.SudoUser(t)
	cfg, _ := loadPlan(t, fmt.Sprintf(`
tunnel "local" "me" {}
tunnel "sudo" "them" {
  user = %q
}
group "roots" {
  members = [tunnel.local.me, tunnel.sudo.them]
  where   = host.facts.uid == 0
}
tasks "a" {
  on = group.roots
  task "ping" "p" {}
}
`, user))
	_, ev := apply(t, cfg, engine.Options{})
	if ev.status("me", "tasks.a.p") != engine.StatusOK || ev.status("them", "tasks.a.p") != "" {
		t.Fatalf("me %q, them %q", ev.status("me", "tasks.a.p"), ev.status("them", "tasks.a.p"))
	}
}

func TestPutReportsProgress(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "put" "big" {
    src  = "${path.module}/big"
    dest = "ORDER.copy"
  }
}
`)
	const size = 24 << 20
	os.WriteFile(filepath.Join(cfg.Dir, "big"), make([]byte, size), 0o644)
	_, ev := apply(t, cfg, engine.Options{})
	var last engine.Event
	n := 0
	for _, e := range ev.all {
		if e.Type == engine.EventProgress {
			if e.Done < last.Done || e.Total != size || e.Task != "tasks.a.big" {
				t.Fatalf("progress %+v after %+v", e, last)
			}
			last, n = e, n+1
		}
	}
	if n == 0 || last.Done != size {
		t.Fatalf("%d progress events, last %+v", n, last)
	}
	if fi, err := os.Stat(order + ".copy"); err != nil || fi.Size() != size {
		t.Fatalf("copy: %v", err)
	}
}
