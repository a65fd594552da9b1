package plan_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/plan"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFormatGolden formats each testdata/fmt/*.chop.hcl and compares the
// result with its .golden file (go test ./plan -run Golden -update writes
// them); formatting the golden output again must change nothing.
func TestFormatGolden(t *testing.T) {
	inputs, _ := filepath.Glob(filepath.Join("..", "testdata", "fmt", "*.chop.hcl"))
	if len(inputs) == 0 {
		t.Fatal("no fmt testdata")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, diags := plan.Format(src, in)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			golden := in + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("formatted %s differs from %s:\n%s", in, golden, got)
			}
			again, _ := plan.Format(got, in)
			if string(again) != string(got) {
				t.Errorf("formatting is not idempotent:\n%s", again)
			}
			if strings.Contains(filepath.Base(in), "formatted") && string(got) != string(src) {
				t.Errorf("an already formatted file changed")
			}
		})
	}
}

func TestFormatSyntaxError(t *testing.T) {
	src := []byte("tunnel \"local\" \"me\" {\n")
	out, diags := plan.Format(src, "x.chop.hcl")
	if !diags.HasErrors() {
		t.Fatal("want a syntax error")
	}
	if string(out) != string(src) {
		t.Error("source with syntax errors must come back unchanged")
	}
}
