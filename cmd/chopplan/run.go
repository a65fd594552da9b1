package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/internal/termsafe"
)

func (c *cli) newRunCmd() *cobra.Command {
	var (
		targets targetFlags
		asJSON  bool
		shell   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run --on TARGET [--on TARGET...] -- COMMAND [ARG...]",
		Short: "Run a command on targets now, without a plan (like `ansible all -a`)",
		Long: `Run a command on every target at once. Output lines are printed as they
come, prefixed with the host name. With one argument that contains spaces
or shell syntax, or with --shell, the command runs under /bin/sh -c.

Exit status: 0 when it succeeded everywhere, 2 when it failed on some host,
4 when a host could not be reached, 6 when both, 1 for a usage error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// With --json, stdout holds JSON alone: agents' own words go to stderr.
			out := c.stdout
			if asJSON {
				out = c.stderr
			}
			g, err := targets.group(out)
			if err != nil {
				return err
			}
			defer g.Close()
			var command any = args
			if shell || (len(args) == 1 && strings.ContainsAny(args[0], " \t;|&$<>()`'\"*?")) {
				command = strings.Join(args, " ")
			}
			callArgs := map[string]any{"command": command, "live": !asJSON}
			if timeout > 0 {
				callArgs["timeout"] = timeout.String()
			}
			ctx, cancel := cancelOnInterrupt(cmd.Context())
			defer cancel()
			res := g.Call(ctx, "exec", callArgs)
			if ctx.Err() != nil {
				c.printFailures(res)
				return exitCode(exitInterrupted)
			}
			if asJSON {
				c.printRunJSON(res)
			} else {
				c.printFailures(res)
			}
			if code := failureStatus(res); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	targets.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per host instead of live output")
	cmd.Flags().BoolVar(&shell, "shell", false, "run the command under /bin/sh -c")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "kill the command after this long (e.g. 30s)")
	return cmd
}

// runRecord is one host's line of `run --json`.
type runRecord struct {
	Host       string  `json:"host"`
	Status     string  `json:"status"` // ok, failed or unreachable
	RC         *int64  `json:"rc,omitempty"`
	Stdout     string  `json:"stdout,omitempty"`
	Stderr     string  `json:"stderr,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Error      string  `json:"error,omitempty"`
}

func (c *cli) printRunJSON(res *engine.GroupResult[cty.Value]) {
	enc := json.NewEncoder(c.stdout)
	for _, h := range res.Hosts() {
		rec := runRecord{Host: h, Status: "ok"}
		v, err := res.Get(h)
		var f *engine.Failure
		if errors.As(err, &f) {
			rec.Status, rec.Error = "failed", f.Message
			if f.Unreachable {
				rec.Status = "unreachable"
			}
			v = f.Value
		}
		// The result came from the target: read it as untrusted data.
		if rc, ok := agent.AttrInt(v, "rc"); ok {
			rec.RC = &rc
			rec.Stdout, _ = agent.AttrString(v, "stdout")
			rec.Stderr, _ = agent.AttrString(v, "stderr")
			rec.DurationMS, _ = agent.AttrFloat(v, "duration_ms")
		}
		enc.Encode(rec)
	}
}

// printFailures prints a line per failed host to stderr.
func (c *cli) printFailures(res interface {
	Failures() iter.Seq2[string, *engine.Failure]
}) {
	for h, f := range res.Failures() {
		word := "FAILED"
		if f.Unreachable {
			word = "UNREACHABLE"
		}
		// The message may hold what the host said: shown, not obeyed.
		lines := strings.Split(strings.TrimRight(f.Message, "\r\n"), "\n")
		for i, l := range lines {
			l = termsafe.String(strings.TrimSuffix(l, "\r"))
			if i == 0 {
				fmt.Fprintf(c.stderr, "%s | %s: %s\n", h, word, l)
			} else {
				fmt.Fprintf(c.stderr, "%s |   %s\n", h, l)
			}
		}
	}
}
