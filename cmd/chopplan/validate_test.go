package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line as main does and returns its status and
// output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const validPlan = `variable "greeting" {
  type    = string
  default = "hello"
}

tunnel "local" "me" {}

tasks "hello" {
  on = tunnel.local.me
  task "exec" "greet" {
    command = ["echo", var.greeting]
  }
}
`

func TestValidateValid(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.chop.hcl": validPlan})
	code, out, errOut := runCLI(t, "", "validate", dir)
	if code != 0 || !strings.Contains(out, "Success!") || errOut != "" {
		t.Fatalf("validate: status %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateReportsEveryProblemWithSource(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.chop.hcl": `tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "a" {
    comand = "true"
  }
  task "exex" "b" {}
}
`})
	code, _, errOut := runCLI(t, "", "validate", dir)
	if code != 1 {
		t.Fatalf("status %d, want 1", code)
	}
	for _, want := range []string{
		"Error: Unsupported argument", `Did you mean "command"?`, "5:     comand = \"true\"", "^^^^^^",
		"Error: Unknown builtin", `Did you mean "exec"?`,
		"Error: Missing required argument",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.chop.hcl": "tunnel \"local\" \"me\" {\n  usr = 1\n}\n"})
	// One dash, as Terraform users type it.
	code, out, _ := runCLI(t, "", "validate", "-json", dir)
	if code != 1 {
		t.Fatalf("status %d, want 1", code)
	}
	var got struct {
		Valid        bool `json:"valid"`
		ErrorCount   int  `json:"error_count"`
		WarningCount int  `json:"warning_count"`
		Diagnostics  []struct {
			Severity, Summary, Detail string
			Range                     struct {
				Filename   string
				Start, End struct{ Line, Column, Byte int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Valid || got.ErrorCount != 1 || got.WarningCount != 0 || len(got.Diagnostics) != 1 {
		t.Fatalf("unexpected result: %+v", got)
	}
	d := got.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Unsupported argument" || d.Detail == "" ||
		!strings.HasSuffix(d.Range.Filename, "main.chop.hcl") || d.Range.Start.Line != 2 || d.Range.Start.Column != 3 ||
		d.Range.End.Column != 6 || d.Range.Start.Byte != 24 {
		t.Errorf("unexpected diagnostic: %+v", d)
	}

	writeFiles(t, dir, map[string]string{"main.chop.hcl": validPlan})
	code, out, _ = runCLI(t, "", "validate", "--json", dir)
	if code != 0 || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"diagnostics": []`) {
		t.Errorf("status %d:\n%s", code, out)
	}
}

func TestValidateVars(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.chop.hcl": `variable "n" {
  type = number
  validation {
    condition     = var.n > 2
    error_message = "n must be more than 2."
  }
}
`,
		"small.chopvars.hcl": "n = 1\n",
		"big.chopvars.hcl":   "n = 5\n",
	})
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"validate", dir}, 1}, // no value
		{[]string{"validate", "-var", "n=3", dir}, 0},
		{[]string{"validate", "-var=n=1", dir}, 1},
		{[]string{"validate", "-var", "n=1", "-var-file", filepath.Join(dir, "big.chopvars.hcl"), dir}, 0},
		{[]string{"validate", "-var-file", filepath.Join(dir, "big.chopvars.hcl"), "-var", "n=1", dir}, 1},
		{[]string{"validate", "--var-file", filepath.Join(dir, "small.chopvars.hcl"), dir}, 1},
	}
	for _, c := range cases {
		if code, _, errOut := runCLI(t, "", c.args...); code != c.code {
			t.Errorf("%v: status %d, want %d\n%s", c.args, code, c.code, errOut)
		}
	}
	t.Setenv("CHOP_VAR_n", "4")
	if code, _, errOut := runCLI(t, "", "validate", dir); code != 0 {
		t.Errorf("CHOP_VAR_n=4: status %d\n%s", code, errOut)
	}
}

func TestGraph(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.chop.hcl": `tunnel "local" "a" {}
tunnel "local" "b" {}
tasks "first" {
  on = [tunnel.local.a, tunnel.local.b]
  task "exec" "x" { command = ["true"] }
}
tasks "second" {
  on         = tunnel.local.a
  depends_on = [tasks.first]
  task "exec" "y" { command = ["echo", tasks.first.x["b"].stdout] }
}
`})
	code, out, errOut := runCLI(t, "", "graph", dir)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	for _, want := range []string{"digraph chopplan", `"tasks.first.x" -> "tasks.second" [label="depends_on"]`, `style=dashed, label="reads tasks.first.x"`} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "", "graph", "-hosts", dir)
	if code != 0 || !strings.Contains(out, `label="b"`) || !strings.Contains(out, `"done: tasks.first" -> "a/tasks.second.y"`) {
		t.Errorf("graph -hosts: status %d:\n%s", code, out)
	}
}
