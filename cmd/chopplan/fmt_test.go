package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unformatted = "locals {\na = 1\n  bcd=\"x\"\n}\n"
const formatted = "locals {\n  a   = 1\n  bcd = \"x\"\n}\n"

func TestFmtWritesAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.chop.hcl":           unformatted,
		"b.chop.hcl":           formatted,
		"vars.chopvars.hcl":    "x=1\n",
		"plan.chop.yaml":       "locals:\n    a: 1\n",
		"sub/c.chop.hcl":       unformatted,
		".chopplan/d.chop.hcl": unformatted,
	})
	code, out, errOut := runCLI(t, "", "fmt", dir)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	if got := readFile(t, filepath.Join(dir, "a.chop.hcl")); got != formatted {
		t.Errorf("a.chop.hcl:\n%s", got)
	}
	if !strings.Contains(out, "a.chop.hcl") || !strings.Contains(out, "vars.chopvars.hcl") || strings.Contains(out, "b.chop.hcl") {
		t.Errorf("fmt should list the files it changed, only those:\n%s", out)
	}
	if readFile(t, filepath.Join(dir, "sub/c.chop.hcl")) != unformatted {
		t.Error("fmt without -recursive changed a file in a subdirectory")
	}
	if readFile(t, filepath.Join(dir, "plan.chop.yaml")) != "locals:\n    a: 1\n" {
		t.Error("fmt changed a YAML plan")
	}
	code, out, _ = runCLI(t, "", "fmt", dir)
	if code != 0 || out != "" {
		t.Errorf("second fmt: status %d, listed %q; fmt must be idempotent", code, out)
	}
	code, _, _ = runCLI(t, "", "fmt", "-recursive", dir)
	if code != 0 || readFile(t, filepath.Join(dir, "sub/c.chop.hcl")) != formatted {
		t.Error("fmt -recursive did not format sub/c.chop.hcl")
	}
	if readFile(t, filepath.Join(dir, ".chopplan/d.chop.hcl")) != unformatted {
		t.Error("fmt -recursive entered a hidden directory")
	}
}

func TestFmtCheckAndDiff(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.chop.hcl": unformatted, "b.chop.hcl": formatted})
	code, out, _ := runCLI(t, "", "fmt", "-check", dir)
	if code != 3 || !strings.Contains(out, "a.chop.hcl") || strings.Contains(out, "b.chop.hcl") {
		t.Errorf("fmt -check: status %d, stdout %q; want 3 listing a.chop.hcl", code, out)
	}
	if readFile(t, filepath.Join(dir, "a.chop.hcl")) != unformatted {
		t.Error("fmt -check changed a file")
	}
	code, out, _ = runCLI(t, "", "fmt", "-check", "-diff", filepath.Join(dir, "a.chop.hcl"))
	if code != 3 {
		t.Errorf("status %d", code)
	}
	for _, want := range []string{"--- old/", "+++ new/", "@@ -1,4 +1,4 @@", "-a = 1\n", "+  a   = 1\n", " locals {\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	code, _, _ = runCLI(t, "", "fmt", "-check", filepath.Join(dir, "b.chop.hcl"))
	if code != 0 {
		t.Errorf("fmt -check of a formatted file: status %d", code)
	}
}

func TestFmtStdin(t *testing.T) {
	code, out, _ := runCLI(t, unformatted, "fmt", "-")
	if code != 0 || out != formatted {
		t.Errorf("fmt -: status %d, stdout %q", code, out)
	}
	code, out, _ = runCLI(t, unformatted, "fmt", "-check", "-")
	if code != 3 || out != "" {
		t.Errorf("fmt -check -: status %d, stdout %q", code, out)
	}
	code, _, errOut := runCLI(t, "locals {\n", "fmt", "-")
	if code != 1 || !strings.Contains(errOut, "Unclosed configuration block") {
		t.Errorf("fmt - with a syntax error: status %d, stderr %q", code, errOut)
	}
}

func TestFmtSyntaxErrorLeavesFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.chop.hcl": "locals {\n a = \n}\n"})
	code, _, errOut := runCLI(t, "", "fmt", dir)
	if code != 1 || !strings.Contains(errOut, "a.chop.hcl line 2") {
		t.Errorf("status %d, stderr %q", code, errOut)
	}
	if readFile(t, filepath.Join(dir, "a.chop.hcl")) != "locals {\n a = \n}\n" {
		t.Error("fmt rewrote a file with a syntax error")
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\neleven\n12\n"
	got := unifiedDiff("a", "b", a, b)
	want := "--- a\n+++ b\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n@@ -9,4 +9,5 @@\n 9\n 10\n 11\n+eleven\n 12\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
