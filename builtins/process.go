package builtins

import (
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// process is a command to run in a process group of its own, which is
// killed whole when the run's context ends, so nothing it started
// outlives the call.
type process struct {
	argv []string
	dir  string
	// env holds KEY=VALUE entries over the agent's own environment.
	env []string
	// stdin is nil for /dev/null.
	stdin io.Reader
	// stdout and stderr may be the same capture: then the command gets
	// one pipe for both, and its output keeps its order.
	stdout, stderr *capture
}

// waitDelay bounds how long a finished command's output is waited for: a
// child that left the group (setsid, a daemon) may hold the pipes open
// after the command is gone.
const waitDelay = 2 * time.Second

// environ is the agent's environment with p.env over it, each name once.
func (p *process) environ() []string {
	base := os.Environ()
	if len(p.env) == 0 {
		return base
	}
	set := map[string]bool{}
	for _, kv := range p.env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := slices.DeleteFunc(base, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return set[k]
	})
	return append(out, p.env...)
}
