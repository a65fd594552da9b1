package plan_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

// TestThreeSyntaxes checks that a plan written in HCL, JSON and YAML
// decodes to the same configuration: every block, static value, host set
// and dependency, module call, and every task's arguments evaluated for
// every host. It covers the plans under testdata/equivalence written in
// the three syntaxes side by side (same name, three suffixes), and every
// example plan under examples/plans against its JSON and YAML twins under
// testdata/equivalence/examples (see TestExamplePlansHaveTwins).
func TestThreeSyntaxes(t *testing.T) {
	var bases []string
	filepath.WalkDir(equivalenceDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p == twinsDir {
			return filepath.SkipDir
		}
		if err == nil && strings.HasSuffix(p, plan.SuffixHCL) {
			base := strings.TrimSuffix(p, plan.SuffixHCL)
			if fileExists(base+plan.SuffixJSON) && fileExists(base+plan.SuffixYAML) {
				bases = append(bases, base)
			}
		}
		return nil
	})
	if len(bases) < 2 {
		t.Fatalf("found %d plans written in the three syntaxes under %s; want at least 2", len(bases), equivalenceDir)
	}
	for _, base := range bases {
		t.Run(filepath.Base(base), func(t *testing.T) {
			want := dumpPlan(t, base+plan.SuffixHCL)
			for _, suffix := range []string{plan.SuffixJSON, plan.SuffixYAML} {
				got := dumpPlan(t, base+suffix)
				if got != want {
					t.Errorf("%s decodes differently from %s:\n%s", suffix, plan.SuffixHCL, plantest.LineDiff(want, got))
				}
			}
		})
	}

	examples := examplePlans(t)
	if len(examples) < 4 {
		t.Fatalf("found %d example plans under %s; want at least 4", len(examples), examplesDir)
	}
	for _, name := range examples {
		t.Run("examples/"+name, func(t *testing.T) {
			want := dumpPlan(t, filepath.Join(examplesDir, name))
			for _, syntax := range twinSyntaxes {
				dir := filepath.Join(twinsDir, syntax.dir, name)
				if !fileExists(dir) {
					t.Errorf("%s has no %s twin in %s", name, syntax.dir, dir)
					continue
				}
				got := dumpPlan(t, dir)
				if got != want {
					t.Errorf("%s decodes differently from %s:\n%s", dir, filepath.Join(examplesDir, name), plantest.LineDiff(want, got))
				}
			}
		})
	}
}

var (
	equivalenceDir = filepath.Join("..", "testdata", "equivalence")
	examplesDir    = filepath.Join("..", "examples", "plans")
	// twinsDir mirrors examplesDir once per syntax: the JSON twin of
	// examples/plans/NAME/X.chop.hcl is twinsDir/json/NAME/X.chop.json.
	// A plan is a directory, so the twins cannot sit beside the HCL files:
	// they would be loaded with them and clash.
	twinsDir     = filepath.Join(equivalenceDir, "examples")
	twinSyntaxes = []struct{ dir, suffix string }{{"json", plan.SuffixJSON}, {"yaml", plan.SuffixYAML}}
)

// examplePlans returns the names of the plans under examplesDir: the
// directories that hold plan files.
func examplePlans(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && len(planFiles(t, filepath.Join(examplesDir, e.Name()))) > 0 {
			names = append(names, e.Name())
		}
	}
	return names
}

// planFiles returns the plan files under root, modules included, relative
// to root, leaving out .chopplan (a run's state and installed git modules).
func planFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".chopplan" {
			return filepath.SkipDir
		}
		if !d.IsDir() && plan.IsPlanFile(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestExamplePlansHaveTwins fails when an example plan's file (its
// modules' included) has no JSON or YAML twin, when a twin has no HCL
// original, or when an example is written in anything but HCL: every
// example is proved by TestThreeSyntaxes to read the same in the three
// syntaxes.
func TestExamplePlansHaveTwins(t *testing.T) {
	examples := examplePlans(t)
	if len(examples) == 0 {
		t.Fatalf("no example plans under %s", examplesDir)
	}
	for _, syntax := range twinSyntaxes {
		want := map[string]bool{}
		for _, name := range examples {
			for _, f := range planFiles(t, filepath.Join(examplesDir, name)) {
				if !strings.HasSuffix(f, plan.SuffixHCL) {
					t.Errorf("%s: example plans are written in HCL (their JSON and YAML twins live in %s)",
						filepath.Join(examplesDir, name, f), twinsDir)
					continue
				}
				twin := path.Join(name, strings.TrimSuffix(f, plan.SuffixHCL)+syntax.suffix)
				want[twin] = true
				if !fileExists(filepath.Join(twinsDir, syntax.dir, filepath.FromSlash(twin))) {
					t.Errorf("%s has no %s twin: write %s", filepath.Join(examplesDir, name, f), syntax.dir,
						filepath.Join(twinsDir, syntax.dir, filepath.FromSlash(twin)))
				}
			}
		}
		for _, f := range planFiles(t, filepath.Join(twinsDir, syntax.dir)) {
			if !want[f] {
				t.Errorf("%s is the twin of no example plan file", filepath.Join(twinsDir, syntax.dir, filepath.FromSlash(f)))
			}
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// dumpPlan loads a plan (a file or a directory) against the real specs
// and writes its configuration as text. Paths that depend on where the
// plan lies are written as what they stand for: the root module's
// directory as <path.root>, a module's as <module.NAME>, so that a plan
// and its twin elsewhere compare equal.
func dumpPlan(t *testing.T, path string) string {
	t.Helper()
	schemas := engine.Schemas(nil)
	cfg, diags := plan.Load(path, plan.LoadOptions{Schemas: schemas})
	if diags.HasErrors() {
		var b strings.Builder
		hcl.NewDiagnosticTextWriter(&b, cfg.Files, 0, false).WriteDiagnostics(diags)
		t.Fatalf("%s:\n%s", path, b.String())
	}
	dump := dumpConfig(cfg, schemas)
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// Modules lie under the root: replace the longest paths first.
	dirs := map[string]string{root: "<path.root>"}
	for _, m := range cfg.Modules {
		dir, err := filepath.Abs(m.Dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[dir] = "<" + m.Addr + ">"
	}
	var abs []string
	for d := range dirs {
		abs = append(abs, d)
	}
	sort.Slice(abs, func(i, j int) bool { return len(abs[i]) > len(abs[j]) })
	for _, d := range abs {
		dump = strings.ReplaceAll(dump, d, dirs[d])
	}
	return dump
}

// dumpConfig writes cfg as text. Every task's arguments and condition are
// evaluated twice for every host: as in plan mode, where results are
// unknown, and as in a run, given made-up results (see fakeResults) so that
// templates and expressions over results are evaluated in full. Outputs
// are evaluated over the made-up results.
func dumpConfig(cfg *plan.Config, schemas plan.Schemas) string {
	results, facts := fakeResults(cfg, schemas)
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
				ctx = cfg.TaskEvalContext(task, plan.HostEval{Host: h, Facts: facts[h.Name], Results: results})
				v, diags = task.EvalArgs(ctx)
				when, wdiags = plan.EvalCondition(task.When, ctx)
				p("    %s run: %#v when=%#v %v", h.Name, v, when, append(diags, wdiags...).Errs())
			}
		}
	}
	for _, m := range cfg.Modules {
		dir, err := filepath.Rel(cfg.Dir, m.Dir)
		if err != nil {
			dir = m.Dir
		}
		p("module %s name=%s source=%q dir=%s", m.Addr, m.Name, m.Source, filepath.ToSlash(dir))
	}
	outs, diags := cfg.EvalOutputs(results)
	for _, o := range cfg.Outputs {
		p("output %s sensitive=%v desc=%q value=%#v", o.Name, o.Sensitive, o.Description, outs[o.Name])
	}
	p("output errors: %v", diags.Errs())
	return b.String()
}

// fakeResults makes up a result for every task on every host of its list,
// of the type its builtin declares, and facts for every host: each string
// names where it stands (two lines, so that split and indexing have
// something to work on), each number is 2, each bool true.
func fakeResults(cfg *plan.Config, schemas plan.Schemas) (plan.Results, map[string]cty.Value) {
	factsType := cty.DynamicPseudoType
	if f, ok := schemas.Builtin("facts"); ok && f.Result != cty.NilType {
		factsType = f.Result
	}
	facts := map[string]cty.Value{}
	for _, h := range cfg.Tunnels {
		facts[h.Name] = fakeValue(factsType, h.Name+".facts")
	}
	results := plan.Results{}
	for _, l := range cfg.TaskLists {
		for _, task := range l.Tasks {
			ty := cty.DynamicPseudoType
			if f, ok := schemas.Builtin(task.Builtin); ok && f.Result != cty.NilType {
				ty = f.Result
			}
			byHost := map[string]cty.Value{}
			for _, h := range l.On {
				byHost[h.Name] = fakeValue(ty, task.Addr+"@"+h.Name)
			}
			results[task.Addr] = byHost
		}
	}
	return results, facts
}

func fakeValue(ty cty.Type, at string) cty.Value {
	switch {
	case ty == cty.String || ty == cty.DynamicPseudoType:
		return cty.StringVal(at + "\n2")
	case ty == cty.Number:
		return cty.NumberIntVal(2)
	case ty == cty.Bool:
		return cty.True
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for n, at2 := range ty.AttributeTypes() {
			attrs[n] = fakeValue(at2, at+"."+n)
		}
		return cty.ObjectVal(attrs)
	case ty.IsTupleType():
		var elems []cty.Value
		for i, et := range ty.TupleElementTypes() {
			elems = append(elems, fakeValue(et, fmt.Sprintf("%s[%d]", at, i)))
		}
		return cty.TupleVal(elems)
	case ty.IsListType():
		return cty.ListVal([]cty.Value{fakeValue(ty.ElementType(), at+"[0]")})
	case ty.IsSetType():
		return cty.SetVal([]cty.Value{fakeValue(ty.ElementType(), at+"[0]")})
	case ty.IsMapType():
		return cty.MapVal(map[string]cty.Value{"k": fakeValue(ty.ElementType(), at+"[k]")})
	}
	return cty.UnknownVal(ty)
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
