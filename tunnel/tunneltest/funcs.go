// Package tunneltest is the contract every tunnel kind must pass, run
// against real targets. Its test functions are registered in the test
// binary, which is the agent the tunnels start, so they run on every
// target, even a container with nothing but the agent in it.
package tunneltest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
	"github.com/chopplan/chopplan/tunnel"
)

// SleepCommand is the argument that makes the test binary sleep, so
// tests have a real child process to cancel on any target.
const SleepCommand = "tunneltest-sleep"

// Main is TestMain for packages that run the contract: the test binary
// serves as an agent, or sleeps as a child, or runs the tests.
func Main(run func() int) {
	tunnel.ServeAgentIfInvoked()
	if len(os.Args) > 1 && os.Args[1] == SleepCommand {
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(run())
}

func init() {
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.exe", Doc: "the agent's executable path", Result: cty.String,
		Run: func(agent.CallContext, cty.Value) (cty.Value, error) {
			exe, err := os.Executable()
			return cty.StringVal(exe), err
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.procs", Doc: "command lines of the target's processes that contain marker",
		Args:   []builtins.Arg{{Name: "marker", Type: cty.String, Required: true}},
		Result: cty.List(cty.String),
		Run: func(_ agent.CallContext, args cty.Value) (cty.Value, error) {
			found := procsWith(args.GetAttr("marker").AsString())
			if len(found) == 0 {
				return cty.ListValEmpty(cty.String), nil
			}
			return cty.ListVal(found), nil
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.die", Doc: "the agent exits at once, as if killed",
		Run: func(agent.CallContext, cty.Value) (cty.Value, error) {
			time.Sleep(20 * time.Millisecond)
			os.Exit(3)
			return cty.NilVal, nil
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.block", Doc: "waits until cancelled",
		Run: func(cc agent.CallContext, _ cty.Value) (cty.Value, error) {
			<-cc.Context().Done()
			return cty.NilVal, cc.Context().Err()
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.echo", Doc: "returns its argument",
		Args: []builtins.Arg{{Name: "value", Type: cty.DynamicPseudoType}},
		Run: func(_ agent.CallContext, args cty.Value) (cty.Value, error) {
			return args.GetAttr("value"), nil
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.blob", Doc: "a string of n bytes",
		Args:   []builtins.Arg{{Name: "n", Type: cty.Number, Required: true}},
		Result: cty.String,
		Run: func(_ agent.CallContext, args cty.Value) (cty.Value, error) {
			n, _ := args.GetAttr("n").AsBigFloat().Int64()
			return cty.StringVal(strings.Repeat("x", int(n))), nil
		},
	})
	builtins.MustRegister(builtins.Spec{
		Name: "tunneltest.pid", Doc: "the agent's process id", Result: cty.Number,
		Run: func(agent.CallContext, cty.Value) (cty.Value, error) {
			return cty.NumberIntVal(int64(os.Getpid())), nil
		},
	})
}

// procsWith lists the command lines (NUL bytes as spaces) of processes
// whose command line contains marker, except the caller's own.
func procsWith(marker string) []cty.Value {
	var out []cty.Value
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if filepath.Base(d) == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		line := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		if strings.Contains(line, marker) && !strings.Contains(line, "tunneltest.procs") {
			out = append(out, cty.StringVal(line))
		}
	}
	return out
}
