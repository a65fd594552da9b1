package plan_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/plan/plantest"
)

// The plans under testdata/diagnostics carry their expected diagnostics
// next to the line each is about, as a comment:
//
//	host = 22   # ERROR: Incorrect attribute value type
//	until = ... # WARNING: until without retries
//
// A diagnostic with no source line is expected with "# ERROR(any): ...".
// "# VAR: name=value" and "# ENV: NAME=value" lines give -var values and
// environment for the load. A case is one file, or a directory (for
// modules, var files and lock files) loaded as a whole.
var expectRe = regexp.MustCompile(`(?:#|//)\s*(ERROR|WARNING)(\(any\))?:\s*([^#]*[^#\s])`)
var varRe = regexp.MustCompile(`(?:#|//)\s*(VAR|ENV|VARFILE):\s*(\S+)`)

type diagKey struct {
	file     string // base name; "" for (any)
	line     int
	severity string
	summary  string
}

func (k diagKey) String() string {
	if k.file == "" {
		return fmt.Sprintf("(any) %s: %s", k.severity, k.summary)
	}
	return fmt.Sprintf("%s:%d %s: %s", k.file, k.line, k.severity, k.summary)
}

func readExpectations(t *testing.T, path string, opts *plan.LoadOptions) []diagKey {
	t.Helper()
	var files []string
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files = append(files, p)
			}
			return nil
		})
	} else {
		files = []string{path}
	}
	var out []diagKey
	for _, f := range files {
		if strings.HasSuffix(f, ".expect") {
			continue
		}
		// JSON has no comments: its expectations are in FILE.expect, as
		// "LINE: ERROR: Summary".
		if exp, err := os.ReadFile(f + ".expect"); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(string(exp)), "\n") {
				var line int
				var rest string
				if n, _ := fmt.Sscanf(l, "%d:", &line); n == 1 {
					_, rest, _ = strings.Cut(l, ":")
					if m := expectRe.FindStringSubmatch("#" + rest); m != nil {
						sev := "error"
						if m[1] == "WARNING" {
							sev = "warning"
						}
						out = append(out, diagKey{file: filepath.Base(f), line: line, severity: sev, summary: m[3]})
					}
				}
			}
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			for _, m := range expectRe.FindAllStringSubmatch(text, -1) {
				sev := "error"
				if m[1] == "WARNING" {
					sev = "warning"
				}
				k := diagKey{file: filepath.Base(f), line: line, severity: sev, summary: m[3]}
				if m[2] != "" {
					k.file, k.line = "", 0
				}
				out = append(out, k)
			}
			if m := varRe.FindStringSubmatch(text); m != nil {
				switch m[1] {
				case "VAR":
					v, err := plan.ParseVarFlag(m[2])
					if err != nil {
						t.Fatal(err)
					}
					opts.Vars = append(opts.Vars, v)
				case "VARFILE":
					opts.Vars = append(opts.Vars, plan.VarValue{File: filepath.Join(filepath.Dir(f), m[2])})
				case "ENV":
					opts.Env = append(opts.Env, m[2])
				}
			}
		}
	}
	return out
}

func TestDiagnostics(t *testing.T) {
	dir := filepath.Join("..", "testdata", "diagnostics")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, e := range entries {
		if !e.IsDir() && !plan.IsPlanFile(e.Name()) {
			continue
		}
		cases++
		path := filepath.Join(dir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			opts := plan.LoadOptions{Schemas: plantest.Schemas()}
			want := readExpectations(t, path, &opts)
			cfg, diags := plan.Load(path, opts)
			var got []diagKey
			for _, d := range diags {
				sev := "error"
				if d.Severity == hcl.DiagWarning {
					sev = "warning"
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no detail", d.Summary)
				}
				k := diagKey{severity: sev, summary: d.Summary}
				if d.Subject != nil && !strings.HasPrefix(d.Subject.Filename, "<") {
					k.file, k.line = filepath.Base(d.Subject.Filename), d.Subject.Start.Line
					if d.Subject.Start.Column < 1 || d.Subject.End.Byte < d.Subject.Start.Byte {
						t.Errorf("diagnostic %q has a bad range %s", d.Summary, d.Subject)
					}
				}
				got = append(got, k)
			}
			missing, extra := diffKeys(want, got)
			for _, k := range missing {
				t.Errorf("expected %s", k)
			}
			for _, k := range extra {
				t.Errorf("unexpected %s", k)
			}
			if t.Failed() {
				var buf bytes.Buffer
				hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 100, false).WriteDiagnostics(diags)
				t.Logf("all diagnostics:\n%s", buf.String())
			}
		})
	}
	if cases < 60 {
		t.Errorf("only %d diagnostic cases; testdata should hold at least 60", cases)
	}
}

// diffKeys matches want against got as multisets; an (any) expectation
// matches a diagnostic of the same severity and summary anywhere.
func diffKeys(want, got []diagKey) (missing, extra []diagKey) {
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || g.severity != w.severity || g.summary != w.summary {
				continue
			}
			if w.file != "" && (g.file != w.file || g.line != w.line) {
				continue
			}
			used[i], found = true, true
			break
		}
		if !found {
			missing = append(missing, w)
		}
	}
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].String() < extra[j].String() })
	return missing, extra
}
