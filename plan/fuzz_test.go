package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

// FuzzLoad feeds the loader arbitrary plan files in each syntax: it must
// neither panic nor hang, and every diagnostic it reports must be whole.
// CI runs it briefly: go test ./plan -run XXX -fuzz FuzzLoad -fuzztime 30s
func FuzzLoad(f *testing.F) {
	suffixes := []string{plan.SuffixHCL, plan.SuffixJSON, plan.SuffixYAML}
	for _, dir := range []string{"diagnostics", "equivalence/deploy", "equivalence/hello", "fmt"} {
		paths, _ := filepath.Glob(filepath.Join("..", "testdata", dir, "*"))
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for i, s := range suffixes {
				if strings.HasSuffix(p, s) || (s == plan.SuffixHCL && strings.HasSuffix(p, ".golden")) {
					f.Add(src, uint8(i))
				}
			}
		}
	}
	schemas := plantest.Schemas()
	f.Fuzz(func(t *testing.T, src []byte, syntax uint8) {
		dir := t.TempDir()
		name := filepath.Join(dir, "fuzz"+suffixes[int(syntax)%len(suffixes)])
		if err := os.WriteFile(name, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := plan.Load(name, plan.LoadOptions{Schemas: schemas, NoAutoVarFiles: true})
		if cfg == nil {
			t.Fatal("Load returned a nil Config")
		}
		for _, d := range diags {
			if d.Summary == "" || d.Detail == "" {
				t.Errorf("incomplete diagnostic: %#v", d)
			}
		}
		if !diags.HasErrors() {
			for _, l := range cfg.TaskLists {
				for _, task := range l.Tasks {
					for _, h := range l.On {
						task.EvalArgs(cfg.TaskEvalContext(task, plan.HostEval{Host: h}))
					}
				}
			}
			cfg.EvalOutputs(nil)
			cfg.Graph()
		}
	})
}
