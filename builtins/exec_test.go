package builtins_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// How exec runs a command: environment, directory, both output streams
// at volume, large stdin, and the ways a command cannot start.
func TestExecProcess(t *testing.T) {
	tun := local(t)
	t.Setenv("CHOPPLAN_TEST_SHADOWED", "agent")
	dir := t.TempDir()
	res := mustCall(t, tun, "exec", map[string]any{
		"command": `echo "$CHOPPLAN_TEST_SHADOWED $(pwd)"; env | grep -c '^CHOPPLAN_TEST_SHADOWED='`,
		"env":     map[string]string{"CHOPPLAN_TEST_SHADOWED": "task"},
		"dir":     dir,
	}, false)
	if got, want := res.GetAttr("stdout").AsString(), "task "+dir+"\n1\n"; got != want {
		t.Errorf("stdout %q, want %q: the task's variable replaces the agent's, once", got, want)
	}

	// 1 MiB on each stream at once: neither pipe may stall the other.
	res = mustCall(t, tun, "exec", map[string]any{
		"command": "head -c 1048576 /dev/zero | tr '\\0' o & head -c 1048576 /dev/zero | tr '\\0' e >&2; wait",
		"live":    false,
	}, false)
	if o, e := res.GetAttr("stdout").AsString(), res.GetAttr("stderr").AsString(); len(o) != 1<<20 || len(e) != 1<<20 || strings.Trim(o, "o") != "" || strings.Trim(e, "e") != "" {
		t.Errorf("stdout %d bytes, stderr %d bytes, want 1 MiB of o and of e", len(o), len(e))
	}

	// More stdin than a pipe holds, read whole.
	in := strings.Repeat("line\n", 100_000)
	res = mustCall(t, tun, "exec", map[string]any{"command": []string{"wc", "-c"}, "stdin": in}, false)
	if got := strings.TrimSpace(res.GetAttr("stdout").AsString()); got != "500000" {
		t.Errorf("wc -c of 500000 bytes of stdin said %q", got)
	}
	// stdin that the command never reads does not hold the call up.
	mustCall(t, tun, "exec", map[string]any{"command": []string{"true"}, "stdin": in}, false)

	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"command": []string{"/no/such/program"}}, "no such file or directory"},
		{map[string]any{"command": []string{"no-such-program-anywhere"}}, "executable file not found"},
		{map[string]any{"command": []string{"true"}, "dir": filepath.Join(dir, "missing")}, "chdir " + filepath.Join(dir, "missing")},
		{map[string]any{"command": []string{dir}}, "permission denied"},
	} {
		_, err := call(tun, "exec", c.args, false)
		wantError(t, err, c.want)
	}
}

// A command that leaves a daemon behind, holding its output pipes, still
// returns: the call stops reading shortly after the command itself exits.
func TestExecDaemonHoldingOutput(t *testing.T) {
	tun := local(t)
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	res := mustCall(t, tun, "exec", map[string]any{
		"command": "setsid sh -c 'echo $$ > " + pidFile + "; exec sleep 60' & echo started",
	}, false)
	if got := res.GetAttr("stdout").AsString(); got != "started\n" {
		t.Errorf("stdout %q", got)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 0 {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
