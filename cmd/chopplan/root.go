package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every command.
const (
	exitOK          = 0
	exitError       = 1 // usage, invalid plan, controller error
	exitFailed      = 2 // a task or command failed on some host
	exitUnreachable = 4 // a host could not be reached; 6 is both
	exitInterrupted = 130
)

// exitCode is an error that carries the process exit status; its message,
// if any, has already been printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// cli is what every command writes to and reads from.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Main runs the command line args and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if path := os.Getenv("CHOPPLAN_CPUPROFILE"); path != "" {
		// A performance aid: profile the controller's side of a command.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	root := c.newRootCmd()
	root.SetArgs(normalizeFlags(args))
	// Each command decides what an interrupt means: run and facts cancel
	// at once, apply and plan stop starting tasks first (see interrupts).
	err := root.ExecuteContext(context.Background())
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitError
}

func (c *cli) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "chopplan",
		Short:         "Run work on many machines at once, from checked-in plans",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetIn(c.stdin)
	root.AddCommand(
		c.newVersionCmd(),
		c.newApplyCmd(),
		c.newPlanCmd(),
		c.newRunCmd(),
		c.newFactsCmd(),
		c.newValidateCmd(),
		c.newFmtCmd(),
		c.newGraphCmd(),
		c.newInitCmd(),
		newAgentCmd(),
	)
	return root
}

// cancelOnInterrupt is the context of a command that simply stops on
// Ctrl-C or SIGTERM: calls in flight are cancelled on their hosts.
func cancelOnInterrupt(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// normalizeFlags lets long flags be typed with one dash, as Terraform
// users do (-json, -var x=y), as well as with two, as cobra expects.
// Single letters stay shorthand flags; everything after "--" is left alone.
func normalizeFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.HasPrefix(a, "-=") {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
