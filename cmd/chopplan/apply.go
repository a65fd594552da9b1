package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
)

// stopGrace bounds how long running tasks may go on after the first
// interrupt before they are cancelled as by a second one.
const stopGrace = 30 * time.Second

// runFlags are the flags apply and plan share.
type runFlags struct {
	planFlags
	output      string
	junit       string
	forks       int
	limit       []string
	targets     []string
	tags        []string
	timeout     time.Duration
	diff        bool
	retryFailed bool
	out         string     // plan -out: where to save the plan
	saved       *savedPlan // apply FILE: the plan saved there
}

func (f *runFlags) add(cmd *cobra.Command) {
	f.planFlags.add(cmd)
	cmd.Flags().StringVar(&f.output, "output", "", "lines (default), or json: one JSON object per event")
	cmd.Flags().StringVar(&f.junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().IntVar(&f.forks, "forks", engine.DefaultForks, "hosts running tasks at once")
	cmd.Flags().StringArrayVar(&f.limit, "limit", nil, "run only on hosts matching this pattern (web*, db[12]); repeatable")
	cmd.Flags().StringArrayVar(&f.targets, "target", nil, "run only this task list (tasks.NAME) and what it depends on; repeatable")
	cmd.Flags().StringSliceVar(&f.tags, "tags", nil, "run only task lists with one of these tags")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "bound the whole run (e.g. 10m)")
	cmd.Flags().BoolVar(&f.diff, "diff", false, "print the diff of every change")
}

func (c *cli) newApplyCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "apply [PATH]",
		Short: "Run a plan: connect to its hosts and run every task list",
		Long: `Run the plan in PATH (a directory of *.chop.hcl/json/yaml files or one file;
default: the current directory). Each host runs its tasks in plan order as fast
as it can, waiting for other hosts only where the plan says (depends_on,
batch, a reference to another list's results).

Exit status: 0 success, 1 invalid plan or controller error, 2 a task failed,
4 a host was unreachable (6 both), 130 interrupted. The first Ctrl-C stops
starting new tasks and lets running ones finish; a second cancels them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := pathArg(args)
			if sp, ok, err := readSavedPlan(path); err != nil {
				return err
			} else if ok {
				if len(f.vars) > 0 {
					return fmt.Errorf("a saved plan carries its variables: -var and -var-file cannot change them")
				}
				f.vars, f.saved = sp.Vars, sp
				path = sp.Path
			}
			return c.runPlan(cmd.Context(), path, &f, false)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&f.retryFailed, "retry-failed", false, "run only the hosts and tasks that failed, were unreachable or never ran in the last apply")
	return cmd
}

func (c *cli) newPlanCmd() *cobra.Command {
	var (
		f            runFlags
		offline      bool
		detailedExit bool
	)
	cmd := &cobra.Command{
		Use:   "plan [PATH]",
		Short: "Show what apply would do: every task in check mode, with diffs; nothing changes",
		Long: `Connect to the plan's hosts and run every task in check mode: builtins that
support it report whether they would change anything and show the diff; the
others are listed as "would run". Values that depend on results not known
before apply are shown as such. With -offline, print each host's queue and the
barriers between lists without connecting.

Exit status: 0 success, 1 invalid plan or error, 2 a task failed, 4 a host was
unreachable (6 both). With -detailed-exitcode, as Terraform: 0 nothing would
change, 2 something would, 1 any error (a failed task or an unreachable host).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if offline {
				return c.printQueues(pathArg(args), &f.planFlags)
			}
			err := c.runPlan(cmd.Context(), pathArg(args), &f, true)
			switch {
			case err == errWouldChange && detailedExit:
				return exitCode(2)
			case err == errWouldChange:
				return nil
			case detailedExit && err != nil:
				if code, ok := err.(exitCode); ok && code != exitInterrupted {
					return exitCode(exitError)
				}
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&offline, "offline", false, "print each host's queue and the barriers without connecting")
	cmd.Flags().BoolVar(&detailedExit, "detailed-exitcode", false, "exit 2 when something would change, 0 when nothing would")
	cmd.Flags().StringVar(&f.out, "out", "", "save the plan to this file, for `chopplan apply FILE`")
	return cmd
}

// errWouldChange is what runPlan returns in check mode when the run went
// well and something would change; plan turns it into its exit status.
var errWouldChange = errors.New("changes would be made")

func pathArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

// loadValid loads the plan and prints its diagnostics; an invalid plan is
// exit status 1, before anything connects.
func (c *cli) loadValid(path string, pf *planFlags) (*plan.Config, error) {
	cfg, diags := pf.load(path)
	if len(diags) > 0 {
		files := map[string]*hcl.File{}
		if cfg != nil {
			files = cfg.Files
		}
		writeDiagnostics(c.stderr, files, diags)
	}
	if diags.HasErrors() {
		return nil, exitCode(exitError)
	}
	return cfg, nil
}

// runPlan applies the plan, or plans it (check mode).
func (c *cli) runPlan(parent context.Context, path string, f *runFlags, check bool) error {
	cfg, err := c.loadValid(path, &f.planFlags)
	if err != nil {
		return err
	}
	if f.saved != nil {
		if err := f.saved.check(cfg); err != nil {
			return err
		}
	}
	if f.out != "" {
		if err := writeSavedPlan(f.out, cfg, f.vars); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
	}
	redactor := engine.NewRedactor()
	for _, v := range cfg.Variables {
		redactor.Add(v.Value)
	}
	runID := engine.NewRunID(time.Now())
	var (
		sinks   engine.Sinks
		closers []func() error
		done    func(host, task string) bool
	)
	if !check {
		// The journal comes first: a task is on disk before it is on screen.
		var prev *engine.Journal
		if f.retryFailed {
			if prev, err = engine.LatestJournal(cfg.Dir); err != nil {
				return fmt.Errorf("-retry-failed: %w", err)
			}
			done = prev.Done
		}
		journal, err := engine.OpenJournal(cfg.Dir, runID, redactor, prev)
		if err != nil {
			return err
		}
		sinks = append(sinks, journal)
		closers = append(closers, func() error {
			if err := journal.Err(); err != nil {
				return fmt.Errorf("journal %s: %w", journal.Path(), err)
			}
			return journal.Close()
		})
	}
	switch f.output {
	case "":
		if isTerminal(c.stdout) {
			tty := engine.NewTTYRenderer(c.stdout, redactor, engine.TTYOptions{Diff: f.diff || check})
			sinks = append(sinks, tty)
			closers = append([]func() error{tty.Close}, closers...)
			break
		}
		fallthrough
	case "lines":
		sinks = append(sinks, engine.NewLineRenderer(c.stdout, redactor, engine.LineOptions{Diff: f.diff || check, Color: isTerminal(c.stdout)}))
	case "json":
		sinks = append(sinks, engine.NewJSONRenderer(c.stdout, redactor))
	default:
		return fmt.Errorf("-output %q: expected lines or json", f.output)
	}
	if f.junit != "" {
		junit := engine.NewJUnitWriter(f.junit, redactor)
		sinks = append(sinks, junit)
		closers = append(closers, junit.Close)
	}

	ctx, stop, release := interrupts(parent, c.stderr)
	defer release()
	res, err := engine.Run(ctx, cfg, engine.Options{
		Check: check, Forks: f.forks, Limit: f.limit, Targets: f.targets, Tags: f.tags, Timeout: f.timeout,
		Stop: stop, Sink: sinks, Sensitive: redactor.Add, Done: done, RunID: runID,
	})
	for _, closeSink := range closers {
		if cerr := closeSink(); cerr != nil {
			fmt.Fprintln(c.stderr, "Error:", cerr)
			if err == nil {
				err = exitCode(exitError)
			}
		}
	}
	if err != nil {
		return err
	}
	if len(res.OutputDiags) > 0 {
		writeDiagnostics(c.stderr, cfg.Files, res.OutputDiags)
	}
	switch {
	case res.Interrupted:
		return exitCode(exitInterrupted)
	case res.Failed() || res.Unreachable():
		code := 0
		if res.Failed() {
			code |= exitFailed
		}
		if res.Unreachable() {
			code |= exitUnreachable
		}
		return exitCode(code)
	case check && res.Changed():
		return errWouldChange
	}
	return nil
}

// interrupts turns the first SIGINT (or SIGTERM) into stop, closed so the
// run starts nothing new, and the second, or stopGrace after the first,
// into cancelling ctx, which cancels running tasks on their hosts.
func interrupts(parent context.Context, w interface{ Write([]byte) (int, error) }) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(parent)
	stop := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-done:
			return
		}
		fmt.Fprintln(w, "Interrupt: no new tasks start; running ones may finish (Ctrl-C again to cancel them).")
		close(stop)
		select {
		case <-sig:
			fmt.Fprintln(w, "Interrupt: cancelling running tasks.")
		case <-time.After(stopGrace):
		case <-done:
			return
		}
		cancel()
	}()
	return ctx, stop, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}
