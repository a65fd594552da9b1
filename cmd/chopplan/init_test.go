package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestInitGitModule fetches a module from a repository made here (file://,
// since tests have no network), pins it, and checks that validate refuses
// it once its files change.
func TestInitGitModule(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	writeFiles(t, repo, map[string]string{"modules/hello/hello.chop.hcl": `variable "who" { type = string }
tasks "greet" {
  task "exec" "say" {
    command = ["echo", "hello ${var.who}"]
  }
}
output "who" { value = var.who }
`})
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "-qm", "hello module")
	gitRun(t, repo, "tag", "v1")
	first := gitRun(t, repo, "rev-parse", "HEAD")

	dir := t.TempDir()
	source := "git::file://" + repo + "//modules/hello?ref=main"
	writeFiles(t, dir, map[string]string{"main.chop.hcl": `tunnel "local" "me" {}
module "hello" {
  source = "` + source + `"
  on     = tunnel.local.me
  vars   = { who = "world" }
}
`})

	code, _, errOut := runCLI(t, "", "validate", dir)
	if code != 1 || !strings.Contains(errOut, "Module not installed") {
		t.Fatalf("validate before init: status %d\n%s", code, errOut)
	}

	code, out, errOut := runCLI(t, "", "init", dir)
	if code != 0 {
		t.Fatalf("init: status %d\n%s%s", code, out, errOut)
	}
	lock := readFile(t, filepath.Join(dir, "chopplan.lock.hcl"))
	if !strings.Contains(lock, first) || !strings.Contains(lock, "h1:") || !strings.Contains(lock, source) {
		t.Fatalf("lock file:\n%s", lock)
	}
	if code, _, errOut := runCLI(t, "", "validate", dir); code != 0 {
		t.Fatalf("validate after init: status %d\n%s", code, errOut)
	}

	// A changed module file is refused...
	installed, _ := filepath.Glob(filepath.Join(dir, ".chopplan", "modules", "*", "modules", "hello", "hello.chop.hcl"))
	if len(installed) != 1 {
		t.Fatalf("installed module not found: %v", installed)
	}
	os.WriteFile(installed[0], []byte(readFile(t, installed[0])+"\n# changed\n"), 0o644)
	code, _, errOut = runCLI(t, "", "validate", dir)
	if code != 1 || !strings.Contains(errOut, "Module content does not match the lock") {
		t.Fatalf("validate of a changed module: status %d\n%s", code, errOut)
	}
	// ...and init restores it at the locked commit, even after the branch moved.
	writeFiles(t, repo, map[string]string{"modules/hello/extra.chop.hcl": "locals { x = 1 }\n"})
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "-qm", "more")
	second := gitRun(t, repo, "rev-parse", "HEAD")
	if code, out, errOut := runCLI(t, "", "init", dir); code != 0 {
		t.Fatalf("init again: status %d\n%s%s", code, out, errOut)
	}
	if lock2 := readFile(t, filepath.Join(dir, "chopplan.lock.hcl")); lock2 != lock {
		t.Errorf("init without -upgrade moved the lock:\n%s", lock2)
	}
	if code, _, errOut := runCLI(t, "", "validate", dir); code != 0 {
		t.Fatalf("validate after re-init: status %d\n%s", code, errOut)
	}
	// -upgrade follows the ref.
	if code, out, errOut := runCLI(t, "", "init", "-upgrade", dir); code != 0 {
		t.Fatalf("init -upgrade: status %d\n%s%s", code, out, errOut)
	}
	if lock3 := readFile(t, filepath.Join(dir, "chopplan.lock.hcl")); !strings.Contains(lock3, second) {
		t.Errorf("init -upgrade did not pin %s:\n%s", second, lock3)
	}
	if code, _, errOut := runCLI(t, "", "validate", dir); code != 0 {
		t.Fatalf("validate after upgrade: status %d\n%s", code, errOut)
	}
}
