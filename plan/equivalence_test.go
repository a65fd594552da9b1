package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

// TestThreeSyntaxes loads every plan written in HCL, JSON and YAML (same
// name, three suffixes) under testdata/equivalence and examples/plans, and
// checks that the three decode to the same configuration: every block,
// static value, host set and dependency, and every task's arguments
// evaluated for every host.
func TestThreeSyntaxes(t *testing.T) {
	var bases []string
	for _, root := range []string{filepath.Join("..", "testdata", "equivalence"), filepath.Join("..", "examples", "plans")} {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, plan.SuffixHCL) {
				base := strings.TrimSuffix(p, plan.SuffixHCL)
				if fileExists(base+plan.SuffixJSON) && fileExists(base+plan.SuffixYAML) {
					bases = append(bases, base)
				}
			}
			return nil
		})
	}
	if len(bases) < 2 {
		t.Fatalf("found %d plans written in the three syntaxes; want at least 2", len(bases))
	}
	for _, base := range bases {
		t.Run(filepath.Base(base), func(t *testing.T) {
			want := dumpPlan(t, base+plan.SuffixHCL)
			for _, suffix := range []string{plan.SuffixJSON, plan.SuffixYAML} {
				got := dumpPlan(t, base+suffix)
				if got != want {
					t.Errorf("%s decodes differently from %s:\n%s", suffix, plan.SuffixHCL, lineDiff(want, got))
				}
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func lineDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("- %s\n+ %s", x, y))
		}
	}
	return strings.Join(out, "\n")
}

// dumpPlan loads one file and writes its configuration as text.
func dumpPlan(t *testing.T, path string) string {
	t.Helper()
	cfg, diags := plan.Load(path, plan.LoadOptions{Schemas: plantest.Schemas()})
	if diags.HasErrors() {
		var b strings.Builder
		hcl.NewDiagnosticTextWriter(&b, cfg.Files, 0, false).WriteDiagnostics(diags)
		t.Fatalf("%s:\n%s", path, b.String())
	}
	return dumpConfig(cfg)
}

func dumpConfig(cfg *plan.Config) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, v := range cfg.Variables {
		p("variable %s type=%s sensitive=%v nullable=%v validations=%d desc=%q value=%#v",
			v.Name, v.Type.FriendlyName(), v.Sensitive, v.Nullable, len(v.Validations), v.Description, v.Value)
	}
	for _, k := range sortedKeys(cfg.Locals) {
		p("local %s = %#v", k, cfg.Locals[k])
	}
	for _, tu := range cfg.Tunnels {
		via := ""
		if tu.Via != nil {
			via = tu.Via.Addr
		}
		p("tunnel %s kind=%s name=%s via=%s args=%#v", tu.Addr, tu.Kind, tu.Name, via, tu.Args)
	}
	for _, g := range cfg.Groups {
		p("group %s members=%s where=%v", g.Addr, addrs(g.Members), g.Where != nil)
	}
	for _, l := range cfg.TaskLists {
		p("tasks %s on=%s filtered=%v depends_on=%v batch=%v max_failures=%v max_fail_pct=%v timeout=%s tags=%v",
			l.Addr, addrs(l.On), l.Filtered, l.DependsOn, l.Batch, deref(l.MaxFailures), deref(l.MaxFailPercentage), l.Timeout, l.Tags)
		for _, task := range l.Tasks {
			var args []string
			for n := range task.Args {
				args = append(args, n)
			}
			sort.Strings(args)
			p("  task %s builtin=%s args=%v when=%v for_each=%v until=%v changed_when=%v retries=%d delay=%s timeout=%s allow_failure=%v check_mode=%v sensitive=%v",
				task.Addr, task.Builtin, args, task.When != nil, task.ForEach != nil, task.Until != nil, task.ChangedWhen != nil,
				task.Retries, task.Delay, task.Timeout, task.AllowFailure, deref(task.CheckMode), task.Sensitive)
			for _, h := range l.On {
				ctx := cfg.TaskEvalContext(task, plan.HostEval{Host: h})
				v, diags := task.EvalArgs(ctx)
				when, wdiags := plan.EvalCondition(task.When, ctx)
				p("    %s: %#v when=%#v %v", h.Name, v, when, append(diags, wdiags...).Errs())
			}
		}
	}
	outs, diags := cfg.EvalOutputs(nil)
	for _, o := range cfg.Outputs {
		p("output %s sensitive=%v desc=%q value=%#v", o.Name, o.Sensitive, o.Description, outs[o.Name])
	}
	p("output errors: %v", diags.Errs())
	return b.String()
}

func addrs(ts []*plan.Tunnel) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Addr)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func sortedKeys(m map[string]cty.Value) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
