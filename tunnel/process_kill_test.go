package tunnel

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chopplan/chopplan/internal/testenv"
)

// startAndRead starts argv (a shell that writes a child's pid to the file
// $1 names) and returns it with that pid.
func startAndRead(t *testing.T, script string) (*processStream, int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	p, err := startProcess(context.Background(), []string{"sh", "-c", script, "sh", pidFile}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return p, pid
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A command that exits leaving a child in its group, holding its output:
// the close kills the child, found in the group after its leader is gone.
func TestCloseKillsWhatTheLeaderLeftInItsGroup(t *testing.T) {
	t.Parallel()
	p, child := startAndRead(t, `sleep 600 & echo $! >"$1"; exit 0`)
	p.Close()
	if !testenv.Gone(child) {
		syscall.Kill(child, syscall.SIGKILL)
		t.Fatalf("the child (pid %d) the command left in its group outlived the close", child)
	}
}

// A child outside the group (setsid) that holds stderr does not hold the
// close beyond its grace: its end of the pipe is left to it.
func TestCloseDoesNotWaitForStderrHeldOutsideTheGroup(t *testing.T) {
	t.Parallel()
	p, child := startAndRead(t, `setsid sleep 600 & echo $! >"$1"; exec sleep 600`)
	defer syscall.Kill(child, syscall.SIGKILL)
	p.Close() // without a bound, until the child ends
	if !testenv.Alive(child) {
		t.Fatalf("the child outside the group (pid %d) is gone: nothing was proven", child)
	}
}
