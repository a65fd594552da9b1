package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/tunnel"
)

// targetFlags are the flags that say which hosts a command runs on.
type targetFlags struct {
	on []string
}

func (f *targetFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.on, "on", nil, "a target to run on (repeatable): local, sudo:USER")
}

// group opens a tunnel per target; output lines go to out.
func (f *targetFlags) group(out io.Writer) (*engine.Group, error) {
	if len(f.on) == 0 {
		return nil, fmt.Errorf("no target: give at least one --on (for example --on local)")
	}
	lw := out
	var tunnels []engine.Target
	for _, spec := range f.on {
		k, err := parseTarget(spec)
		if err != nil {
			return nil, err
		}
		tunnels = append(tunnels, tunnel.New(k, tunnel.Options{Output: lw}))
	}
	return engine.NewGroup(tunnels...), nil
}

func parseTarget(s string) (tunnel.Kind, error) {
	switch {
	case s == "local":
		return tunnel.Local("local"), nil
	case strings.HasPrefix(s, "sudo:"):
		return tunnel.Sudo("", strings.TrimPrefix(s, "sudo:")), nil
	}
	return nil, fmt.Errorf("unknown target %q: expected local or sudo:USER", s)
}

// failureStatus is the exit status for a result's failures: 2 when a
// command failed, 4 when a host was unreachable, 6 when both.
func failureStatus[T any](res *engine.GroupResult[T]) int {
	code := 0
	for _, f := range res.Failures() {
		if f.Unreachable {
			code |= exitUnreachable
		} else {
			code |= exitFailed
		}
	}
	return code
}
