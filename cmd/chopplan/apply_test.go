package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chopplan/chopplan/internal/testenv"
)

// copyDir copies a directory tree (an example plan) into a temp dir, so
// running it writes nothing into the repository.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == ".chopplan" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writePlan(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.chop.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The README's first command.
func TestApplyHelloExample(t *testing.T) {
	dir := copyDir(t, "../../examples/plans/hello")
	code, out, errs := runCLI(t, "", "apply", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"localhost | hello from ", "tasks.hello.note: changed", "Recap:", "Outputs:", "kernel = "} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "", "apply", dir)
	if code != 0 || !strings.Contains(out, "tasks.hello.note: ok") || !strings.Contains(out, "tasks.hello.uptime: skipped") {
		t.Fatalf("second apply (exit %d) is not idempotent:\n%s", code, out)
	}
}

// Every example validates and plans; rolling-docker against an image
// built here.
func TestExamplesValidateAndPlan(t *testing.T) {
	examples, _ := filepath.Glob("../../examples/plans/*")
	if len(examples) < 4 {
		t.Fatalf("examples: %v", examples)
	}
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			dir := copyDir(t, ex)
			if code, out, errs := runCLI(t, "", "validate", dir); code != 0 {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
			}
			args := []string{"plan", dir}
			if filepath.Base(ex) == "rolling-docker" {
				staticSelf(t)
				args = append(args, "-var", "image="+testenv.BusyboxImage(t))
			}
			if filepath.Base(ex) == "facts-report" {
				testenv.Root(t)
			}
			code, out, errs := runCLI(t, "", args...)
			if code != 0 || !strings.Contains(out, "Recap:") {
				t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
			}
			if strings.Contains(out, "failed") && !strings.Contains(out, "failed  skipped") {
				t.Fatalf("plan reported a failure:\n%s", out)
			}
		})
	}
}

func TestSensitiveValuesAreNeverShown(t *testing.T) {
	const secret = "s3cr3t-T0ken-4711"
	dir := writePlan(t, `
variable "token" {
  type      = string
  sensitive = true
}
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "echo" {
    command = ["echo", "token is ${var.token}"]
  }
  task "file" "conf" {
    path    = "${path.module}/conf"
    content = "token = ${var.token}\n"
  }
  task "exec" "fail" {
    command       = ["sh", "-c", "echo bad token ${var.token} >&2; exit 1"]
    allow_failure = true
  }
}
output "token" {
  value     = var.token
  sensitive = true
}
`)
	t.Setenv("CHOP_VAR_token", secret)
	junit := filepath.Join(t.TempDir(), "report.xml")
	var outputs []string
	code, out, errs := runCLI(t, "", "plan", dir)
	outputs = append(outputs, out, errs)
	if code != 0 {
		t.Fatalf("plan exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "", "apply", "-output", "json", "-junit", junit, dir)
	outputs = append(outputs, out, errs)
	if code != exitFailed {
		t.Fatalf("apply exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "", "apply", "-diff", dir)
	outputs = append(outputs, out, errs)
	b, _ := os.ReadFile(junit)
	outputs = append(outputs, string(b))
	journals, _ := filepath.Glob(filepath.Join(dir, ".chopplan", "runs", "*.ndjson"))
	if len(journals) != 2 {
		t.Fatalf("journals: %v", journals)
	}
	for _, j := range journals {
		b, _ := os.ReadFile(j)
		outputs = append(outputs, string(b))
	}
	for i, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, "T0ken-4711") {
			t.Fatalf("output %d shows the secret:\n%s", i, o)
		}
	}
	// The secret did reach the target: masking is only in what is shown.
	if b, _ := os.ReadFile(filepath.Join(dir, "conf")); !strings.Contains(string(b), secret) {
		t.Fatalf("the file on the target holds %q", b)
	}
	if !strings.Contains(strings.Join(outputs, ""), "(sensitive value)") {
		t.Fatal("nothing was shown as masked")
	}
}

func TestRetryFailed(t *testing.T) {
	dir := writePlan(t, `
tunnel "local" "h" {
  for_each = toset(["h1", "h2"])
}
tasks "a" {
  on = tunnel.local.h
  task "exec" "count" {
    command = "echo ${host.name} >> ${path.module}/ran-count"
  }
  task "exec" "gate" {
    command = "test ${host.name} = h1 || test -e ${path.module}/open"
  }
  task "exec" "after" {
    command = "echo ${host.name} >> ${path.module}/ran-after"
  }
}
`)
	if code, out, errs := runCLI(t, "", "apply", dir); code != exitFailed {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errs)
	}
	os.WriteFile(filepath.Join(dir, "open"), nil, 0o644)
	if code, out, errs := runCLI(t, "", "apply", "-retry-failed", dir); code != 0 {
		t.Fatalf("retry: exit %d\n%s%s", code, out, errs)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.Join(strings.Fields(string(b)), " ")
	}
	// count ran once per host; after ran on h1 first, then on h2 in the retry.
	if c := read("ran-count"); len(strings.Fields(c)) != 2 {
		t.Fatalf("count ran: %q", c)
	}
	if a := read("ran-after"); a != "h1 h2" {
		t.Fatalf("after ran: %q", a)
	}
	fresh := writePlan(t, "tunnel \"local\" \"me\" {}\n")
	if code, _, errs := runCLI(t, "", "apply", "-retry-failed", fresh); code != exitError || !strings.Contains(errs, "retry-failed") {
		t.Fatalf("retry without a journal: exit %d, %s", code, errs)
	}
}

func TestSavedPlan(t *testing.T) {
	dir := writePlan(t, `
variable "word" {
  type = string
}
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "file" "f" {
    path    = "${path.module}/out"
    content = var.word
  }
}
`)
	saved := filepath.Join(t.TempDir(), "saved.plan")
	if code, out, errs := runCLI(t, "", "plan", "-out", saved, "-var", "word=first", dir); code != 0 {
		t.Fatalf("plan: %d %s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "", "apply", saved); code != 0 {
		t.Fatalf("apply saved: %d %s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "first" {
		t.Fatalf("applied %q", b)
	}
	os.WriteFile(filepath.Join(dir, "extra.chop.hcl"), []byte("# changed\n"), 0o644)
	if code, _, errs := runCLI(t, "", "apply", saved); code != exitError || !strings.Contains(errs, "stale") {
		t.Fatalf("stale plan: exit %d, %s", code, errs)
	}
}

// staticSelf ends the test unless this test binary, which is the agent it
// ships, is static: a container without libc cannot run it. `make test`
// builds with CGO_ENABLED=0, so it always is there.
func staticSelf(t *testing.T) {
	exe, _ := os.Executable()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			testenv.Unavailable(t, "a static test binary", fmt.Errorf("%s is dynamically linked: run with CGO_ENABLED=0 (make test does)", exe))
		}
	}
}

// runChild starts the test binary as chopplan with args, in a process
// group of its own, as a shell starts a job.
func runChild(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, as a shell gives a job
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func waitFile(t *testing.T, path string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exitStatus(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// The first Ctrl-C lets the running task finish and starts nothing new.
func TestInterruptOnceFinishesRunningTask(t *testing.T) {
	dir := writePlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "slow" {
    command = "touch ${path.module}/started; sleep 1; touch ${path.module}/finished"
  }
  task "exec" "next" {
    command = "touch ${path.module}/next"
  }
}
`)
	cmd, out := runChild(t, "apply", dir)
	waitFile(t, filepath.Join(dir, "started"))
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitStatus(cmd.Wait()); code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err != nil {
		t.Fatalf("the running task did not finish:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "next")); err == nil {
		t.Fatalf("a new task started after the interrupt:\n%s", out)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, ".chopplan", "runs", "*.ndjson"))
	b, _ := os.ReadFile(journals[0])
	if !strings.Contains(string(b), `"task":"tasks.a.slow","status":"changed"`) || !strings.Contains(string(b), `"type":"summary"`) {
		t.Fatalf("journal:\n%s", b)
	}
}

// A Ctrl-C at a terminal goes to the whole process group: the local agent
// must not die of it, so the running task still finishes.
func TestInterruptFromTheTerminal(t *testing.T) {
	dir := writePlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "slow" {
    command = "touch ${path.module}/started; while [ ! -e ${path.module}/go ] && [ -d ${path.module} ]; do sleep 0.01; done; touch ${path.module}/finished"
  }
}
`)
	cmd, out := runChild(t, "apply", dir)
	waitFile(t, filepath.Join(dir, "started"))
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // as the terminal sends it
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	if code := exitStatus(cmd.Wait()); code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err != nil {
		t.Fatalf("the running task did not finish:\n%s", out.String())
	}
}

// A second Ctrl-C cancels running tasks: their processes are killed.
func TestInterruptTwiceCancels(t *testing.T) {
	marker := fmt.Sprintf("chopplan-interrupt-%d", time.Now().UnixNano())
	dir := writePlan(t, fmt.Sprintf(`
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "forever" {
    command = "touch ${path.module}/started; sleep 300 && echo %s"
  }
}
`, marker))
	cmd, out := runChild(t, "apply", dir)
	waitFile(t, filepath.Join(dir, "started"))
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(100 * time.Millisecond) // let the first be seen as the first
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitStatus(cmd.Wait()); code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for procsWith(marker) {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled command still runs:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procsWith(marker string) bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, _ := os.ReadFile(d)
		if strings.Contains(string(b), marker) && !strings.Contains(string(b), "apply") {
			return true
		}
	}
	return false
}

func TestApplyJSONEvents(t *testing.T) {
	dir := copyDir(t, "../../examples/plans/hello")
	code, out, errs := runCLI(t, "", "apply", "-output", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var last map[string]any
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		types[e["type"].(string)]++
		if e["type"] == "task" {
			for _, k := range []string{"host", "task", "status", "duration_ms"} {
				if _, ok := e[k]; !ok {
					t.Fatalf("task event lacks %s: %s", k, line)
				}
			}
		}
		last = e
	}
	if last["type"] != "summary" || types["task"] != 5 || types["run_start"] != 1 {
		t.Fatalf("events %v, last %v", types, last)
	}
}

func TestPlanExitStatuses(t *testing.T) {
	failing := writePlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "probe" {
    command    = ["false"]
    check_mode = false
  }
}
`)
	changing := writePlan(t, `
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "file" "f" {
    path    = "${path.module}/new"
    content = "x"
  }
}
`)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"plan", failing}, exitFailed},
		{[]string{"plan", "-detailed-exitcode", failing}, exitError},
		{[]string{"plan", changing}, 0},
		{[]string{"plan", "-detailed-exitcode", changing}, 2},
	} {
		if code, out, errs := runCLI(t, "", tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errs)
		}
	}
}

func TestRunJSONStdoutIsOnlyJSON(t *testing.T) {
	testenv.Root(t)
	code, out, _ := runCLI(t, "", "run", "--json", "--on", "sudo:no-such-user-j", "--", "true")
	if code != exitUnreachable {
		t.Fatalf("exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("stdout holds a line that is not JSON: %q", line)
		}
	}
}

// plan -offline prints each host's queue and the barriers without
// connecting (the hosts here could not be reached); -limit, -target and
// -tags reach the run.
func TestPlanOfflineAndSelection(t *testing.T) {
	dir := writePlan(t, `
tunnel "ssh" "web" {
  for_each = toset(["web1", "web2"])
  host     = "${each.key}.invalid"
}
tunnel "local" "me" {}
tasks "setup" {
  on   = tunnel.local.me
  tags = ["setup"]
  task "exec" "mark" { command = "echo setup >> ${path.module}/ran" }
}
tasks "deploy" {
  on         = tunnel.ssh.web
  depends_on = [tasks.setup]
  batch      = 1
  task "ping" "p" {}
}
tasks "other" {
  on   = tunnel.local.me
  tags = ["other"]
  task "exec" "mark" { command = "echo other >> ${path.module}/ran" }
}
`)
	code, out, errs := runCLI(t, "", "plan", "-offline", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"web1:\n  tasks.deploy.p", "me:\n  tasks.setup.mark\n  tasks.other.mark",
		"tasks.deploy waits for every host of tasks.setup", "tasks.deploy runs in batches of 1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("plan -offline lacks %q:\n%s", want, out)
		}
	}
	if code, out, errs := runCLI(t, "", "apply", "-limit", "me", "-tags", "other", dir); code != 0 {
		t.Fatalf("apply -limit me -tags other: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "", "apply", "-limit", "me", "-target", "tasks.setup", "-forks", "1", dir); code != 0 {
		t.Fatalf("apply -limit me -target tasks.setup: exit %d\n%s%s", code, out, errs)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ran"))
	if got := strings.Join(strings.Fields(string(b)), " "); got != "other setup" {
		t.Fatalf("ran %q, want the tagged list, then the target", got)
	}
}

// Output sent to /dev/null, a character device but no terminal, gets the
// plain renderer: no redraws, no cursor movement.
func TestIsTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	for _, f := range []*os.File{null, w} {
		if isTerminal(f) {
			t.Errorf("%s counts as a terminal", f.Name())
		}
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer counts as a terminal")
	}
}
