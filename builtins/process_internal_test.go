package builtins

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Without a pidfd (kernels before 5.3), a command that leaves a daemon
// holding its output still returns once it has exited itself.
func TestProcessWithoutPidfd(t *testing.T) {
	noPidfd = true
	defer func() { noPidfd = false }()
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	var out, errs capture
	p := &process{
		argv:   []string{"/bin/sh", "-c", "setsid sh -c 'echo $$ > " + pidFile + "; exec sleep 60' & echo started"},
		stdout: &out, stderr: &errs,
	}
	rc, err := p.run(context.Background())
	if err != nil || rc != 0 || out.String() != "started\n" {
		t.Fatalf("rc %d, err %v, stdout %q", rc, err, out.String())
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
