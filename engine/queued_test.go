package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
)

// A stable task's call is sent while the task before it runs (the agent
// queues it): its arguments are seen before the task before it ends.
func TestNextTaskIsSentWhileTheTaskBeforeRuns(t *testing.T) {
	cfg, order := loadPlan(t, `
variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cret"
}
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" { command = "echo 2 >> ORDER" }
  task "exec" "three" { command = ["sh", "-c", "echo 3 >> ORDER", var.secret] }
}
`)
	var mu sync.Mutex
	var log []string
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Type == engine.EventTask {
			mu.Lock()
			log = append(log, e.Task+" "+string(e.Status))
			mu.Unlock()
		}
	})
	sensitive := func(v cty.Value) {
		if strings.Contains(v.GoString(), "s3cret") {
			mu.Lock()
			log = append(log, "three's arguments")
			mu.Unlock()
		}
	}
	res, err := engine.Run(context.Background(), cfg, engine.Options{Sink: sink, Sensitive: sensitive})
	if err != nil || res.Failed() {
		t.Fatalf("run: %v, %+v", err, res)
	}
	want := []string{"three's arguments", "tasks.l.two changed", "tasks.l.three changed"}
	if i := slices.Index(log, want[0]); i < 0 || !slices.Equal(log[i:i+3], want) {
		t.Fatalf("events %q: want %q in a row (three sent before two ended)", log, want)
	}
	if got := strings.Join(lines(t, order), ""); got != "123" {
		t.Fatalf("order %q", got)
	}
}

// A task queued behind one that fails never starts; behind one allowed to
// fail it does; behind one that fails and then succeeds on a retry it
// runs once, after it.
func TestQueuedTaskStopsWithTheFailureBeforeIt(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" { command = ["false"] }
  task "exec" "three" { command = "echo 3 >> ORDER" }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if !res.Failed() {
		t.Fatal("no failure")
	}
	if s := ev.status("me", "tasks.l.three"); s != engine.StatusNotRun {
		t.Fatalf("three: %s", s)
	}
	if got := strings.Join(lines(t, order), ""); got != "1" {
		t.Fatalf("order %q: the task after the failure ran", got)
	}
}

func TestQueuedTaskAfterAnAllowedFailure(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "two" {
    command       = ["false"]
    allow_failure = true
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
}
`)
	_, ev := apply(t, cfg, engine.Options{})
	if s := ev.status("me", "tasks.l.three"); s != engine.StatusChanged {
		t.Fatalf("three: %s", s)
	}
	if got := strings.Join(lines(t, order), ""); got != "3" {
		t.Fatalf("order %q", got)
	}
}

func TestQueuedTaskAfterASuccessfulRetry(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "two" {
    command = "echo 2 >> ORDER; test -e ORDER.done || { touch ORDER.done; exit 1; }"
    retries = 1
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
  task "exec" "four" { command = "echo 4 >> ORDER" }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	if got := strings.Join(lines(t, order), ""); got != "2234" {
		t.Fatalf("order %q, want 2234: the retry, then three and four once each", got)
	}
}

// A stop while a task runs lets it finish and withdraws the task queued
// behind it, which does not start.
func TestStopWithdrawsTheQueuedTask(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "two" { command = "touch ORDER.started; while [ ! -e ORDER.go ] && [ -e ORDER.started ]; do sleep 0.01; done; echo 2 >> ORDER" }
  task "exec" "three" { command = "echo 3 >> ORDER" }
}
`)
	stop := make(chan struct{})
	ev, finish := backgroundRun(t, context.Background(), cfg, engine.Options{Stop: stop}, order+".started")
	close(stop)
	if err := os.WriteFile(order+".go", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := finish()
	if s := ev.status("me", "tasks.l.two"); s != engine.StatusChanged {
		t.Fatalf("two: %s, want it to finish", s)
	}
	if s := ev.status("me", "tasks.l.three"); s != engine.StatusNotRun {
		t.Fatalf("three: %s", s)
	}
	if got := strings.Join(lines(t, order), ""); got != "2" {
		t.Fatalf("order %q: three ran after the stop", got)
	}
	if !res.Interrupted {
		t.Fatal("the run is not marked interrupted")
	}
}

// backgroundRun starts a run and returns once the file started exists (a
// task creates it when it runs); finish waits for the run's end.
func backgroundRun(t *testing.T, ctx context.Context, cfg *plan.Config, opts engine.Options, started string) (ev *events, finish func() *engine.Result) {
	t.Helper()
	ev = &events{}
	opts.Sink = ev
	done := make(chan struct{})
	var res *engine.Result
	go func() {
		defer close(done)
		var err error
		if res, err = engine.Run(ctx, cfg, opts); err != nil {
			t.Error(err)
		}
	}()
	for !exists(started) {
		select {
		case <-done:
			t.Fatalf("the run ended before %s appeared", started)
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ev, func() *engine.Result { <-done; return res }
}

func exists(path string) bool {
	_, err := os.Stat(filepath.Clean(path))
	return err == nil
}

// A task allowed to fail but tried again: the task after it waits for the
// last try, and runs once.
func TestQueuedTaskAfterAnAllowedFailureWithRetries(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "two" {
    command       = "echo 2 >> ORDER; test -e ORDER.done || { touch ORDER.done; exit 1; }"
    retries       = 1
    allow_failure = true
  }
  task "exec" "three" { command = "echo 3a >> ORDER; echo 3b >> ORDER" }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	if got := strings.Join(lines(t, order), " "); got != "2 2 3a 3b" {
		t.Fatalf("order %q, want the retry, then three once", got)
	}
}

// Cancelling the run while a queued task runs: it is recorded failed (it
// ran, and was cancelled), it is not tried again, and nothing after it
// starts.
func TestCancelWhileAQueuedTaskRuns(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" {
    command = "echo 2 >> ORDER; touch ORDER.started; while [ ! -e ORDER.go ] && [ -e ORDER.started ]; do sleep 0.01; done"
    retries = 2
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, finish := backgroundRun(t, ctx, cfg, engine.Options{}, order+".started")
	cancel()
	finish()
	if s := ev.status("me", "tasks.l.two"); s != engine.StatusFailed {
		t.Fatalf("two: %s", s)
	}
	if s := ev.status("me", "tasks.l.three"); s != engine.StatusNotRun {
		t.Fatalf("three: %s", s)
	}
	if got := strings.Join(lines(t, order), ""); got != "12" {
		t.Fatalf("order %q: want two once and three never", got)
	}
}

// Behind a task with a deadline the next task waits for its result: a
// deadline passing as the result travels would fail a task that
// succeeded on the target.
func TestNoQueueingBehindATaskWithATimeout(t *testing.T) {
	cfg, _ := loadPlan(t, `
variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cret"
}
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "two" {
    command = ["true"]
    timeout = "1m"
  }
  task "exec" "three" { command = ["true", var.secret] }
}
`)
	var mu sync.Mutex
	var log []string
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Type == engine.EventTask {
			mu.Lock()
			log = append(log, e.Task)
			mu.Unlock()
		}
	})
	sensitive := func(v cty.Value) {
		if strings.Contains(v.GoString(), "s3cret") {
			mu.Lock()
			log = append(log, "three's arguments")
			mu.Unlock()
		}
	}
	if _, err := engine.Run(context.Background(), cfg, engine.Options{Sink: sink, Sensitive: sensitive}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tasks.l.two", "three's arguments", "tasks.l.three"}; !slices.Equal(log, want) {
		t.Fatalf("events %q, want %q", log, want)
	}
}

// A queued task's output follows the report of the task before it, even
// when that report is slow to come (here the masking hook, called with a
// sensitive result, dawdles while the next task already runs and prints).
func TestQueuedTaskOutputFollowsTheTaskBefore(t *testing.T) {
	cfg, _ := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" {
    command   = ["echo", "one-out"]
    sensitive = true
  }
  task "exec" "two" { command = ["echo", "two-out"] }
}
`)
	var mu sync.Mutex
	var log []string
	sink := engine.SinkFunc(func(e engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Type {
		case engine.EventTask:
			log = append(log, e.Task)
		case engine.EventOutput:
			log = append(log, e.Line)
		}
	})
	sensitive := func(v cty.Value) {
		if resultWith(v, "one-out") {
			time.Sleep(100 * time.Millisecond) // two runs meanwhile
		}
	}
	if _, err := engine.Run(context.Background(), cfg, engine.Options{Sink: sink, Sensitive: sensitive}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"one-out", "tasks.l.one", "two-out", "tasks.l.two"}; !slices.Equal(log, want) {
		t.Fatalf("events %q, want %q", log, want)
	}
}

// Cancelling the run while a task allowed to fail runs: the task queued
// behind it never starts, and is recorded not run, as the agent answers.
func TestCancelBehindAnAllowedFailure(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" {
    command       = "touch ORDER.started; while [ ! -e ORDER.go ] && [ -e ORDER.started ]; do sleep 0.01; done"
    allow_failure = true
  }
  task "exec" "two" { command = "echo 2 >> ORDER" }
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, finish := backgroundRun(t, ctx, cfg, engine.Options{}, order+".started")
	cancel()
	finish()
	if s := ev.status("me", "tasks.l.one"); s != engine.StatusFailed {
		t.Fatalf("one: %s", s)
	}
	if s := ev.status("me", "tasks.l.two"); s != engine.StatusNotRun {
		t.Fatalf("two: %s, want not_run (it never started)", s)
	}
	if got := lines(t, order); len(got) != 0 {
		t.Fatalf("two ran: %q", got)
	}
}

// The agent lost while a task runs: the host is unreachable once, and the
// task queued behind it is not run.
func TestAgentLostWithATaskQueued(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" { command = "kill -9 $PPID" }
  task "exec" "two" { command = "echo 2 >> ORDER" }
}
`)
	res, ev := apply(t, cfg, engine.Options{})
	if s := ev.status("me", "tasks.l.one"); s != engine.StatusUnreachable {
		t.Fatalf("one: %s", s)
	}
	if s := ev.status("me", "tasks.l.two"); s != engine.StatusNotRun {
		t.Fatalf("two: %s", s)
	}
	if r := res.Recap["me"]; r.Unreachable != 1 {
		t.Fatalf("recap %+v: want one unreachable", r)
	}
	if got := lines(t, order); len(got) != 0 {
		t.Fatalf("two ran: %q", got)
	}
}

// A stop while the task before is reported, with the queued task already
// running on the agent and losing the host: the queued task ran, so the
// host is unreachable in it, not "not run".
func TestStopThenHostLostInTheQueuedTask(t *testing.T) {
	cfg, order := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" {
    command   = ["echo", "one-out"]
    sensitive = true
  }
  task "exec" "two" { command = "touch ORDER.two; kill -9 $PPID" }
}
`)
	stop := make(chan struct{})
	sensitive := func(v cty.Value) {
		if resultWith(v, "one-out") {
			for !exists(order + ".two") { // two runs while one is reported
				time.Sleep(5 * time.Millisecond)
			}
			close(stop)
		}
	}
	res, ev := apply(t, cfg, engine.Options{Stop: stop, Sensitive: sensitive})
	if s := ev.status("me", "tasks.l.two"); s != engine.StatusUnreachable {
		t.Fatalf("two: %s, want unreachable (it ran and lost the host)", s)
	}
	if r := res.Recap["me"]; r.Unreachable != 1 {
		t.Fatalf("recap %+v", r)
	}
}

// A task queued behind one that fails, and sent again when the list goes
// on: its reported duration counts from when it was sent again, not from
// the failure's result (here followed by a slow report).
func TestDurationOfAQueuedTaskSentAgain(t *testing.T) {
	cfg, _ := loadPlan(t, `
tunnel "local" "me" {}
tasks "l" {
  on = tunnel.local.me
  task "exec" "one" {
    command       = "echo one-out; exit 1"
    allow_failure = true
    retries       = 1
    sensitive     = true
  }
  task "exec" "two" { command = ["true"] }
}
`)
	const slowReport = 2 * time.Second
	sensitive := func(v cty.Value) {
		if resultWith(v, "one-out") {
			time.Sleep(slowReport)
		}
	}
	_, ev := apply(t, cfg, engine.Options{Sensitive: sensitive})
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if e.Type == engine.EventTask && e.Task == "tasks.l.two" {
			if e.Status != engine.StatusChanged || e.DurMS >= float64(slowReport.Milliseconds()) {
				t.Fatalf("two: %s in %.1f ms: its duration includes the report of the task before it", e.Status, e.DurMS)
			}
			return
		}
	}
	t.Fatal("no event for two")
}

// resultWith reports whether v is a task's result (not its arguments, which
// the masking hook also sees) whose output holds s.
func resultWith(v cty.Value, s string) bool {
	ty := v.Type()
	return ty.IsObjectType() && ty.HasAttribute("stdout") && strings.Contains(v.GoString(), s)
}
