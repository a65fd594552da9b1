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

// The plans of these tests: one local host "me" and one list "l", whose
// tasks write to ORDER (loadPlan) to show what ran.

// localList is a plan of the task blocks in tasks as list "l" on "me".
func localList(tasks string) string {
	return "tunnel \"local\" \"me\" {}\ntasks \"l\" {\n  on = tunnel.local.me\n" + tasks + "}\n"
}

// secretVar declares var.secret, whose value s3cret the masking hook is
// shown whenever arguments that hold it are evaluated.
const secretVar = `
variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cret"
}
`

// waitForGo is a command that marks ORDER.started and runs until ORDER.go
// appears (or the test's directory is gone).
const waitForGo = `touch ORDER.started; while [ ! -e ORDER.go ] && [ -e ORDER.started ]; do sleep 0.01; done`

// ran is what the tasks wrote to ORDER, joined.
func ran(t *testing.T, order string) string { return strings.Join(lines(t, order), "") }

func expectStatus(t *testing.T, ev *events, task string, want engine.Status) {
	t.Helper()
	if s := ev.status("me", "tasks.l."+task); s != want {
		t.Fatalf("%s: %s, want %s", task, s, want)
	}
}

// record is what a run's sink and masking hook saw, in order.
type record struct {
	mu  sync.Mutex
	log []string
}

func (r *record) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

// secretSeen is a masking hook that notes when the secret's arguments are
// evaluated.
func (r *record) secretSeen(v cty.Value) {
	if strings.Contains(v.GoString(), "s3cret") {
		r.add("three's arguments")
	}
}

// A stable task's call is sent while the task before it runs (the agent
// queues it): its arguments are seen before the task before it ends.
func TestNextTaskIsSentWhileTheTaskBeforeRuns(t *testing.T) {
	cfg, order := loadPlan(t, secretVar+localList(`
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" { command = "echo 2 >> ORDER" }
  task "exec" "three" { command = ["sh", "-c", "echo 3 >> ORDER", var.secret] }
`))
	rec := &record{}
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Type == engine.EventTask {
			rec.add(e.Task + " " + string(e.Status))
		}
	})
	res, err := engine.Run(context.Background(), cfg, engine.Options{Sink: sink, Sensitive: rec.secretSeen})
	if err != nil || res.Failed() {
		t.Fatalf("run: %v, %+v", err, res)
	}
	want := []string{"three's arguments", "tasks.l.two changed", "tasks.l.three changed"}
	if i := slices.Index(rec.log, want[0]); i < 0 || !slices.Equal(rec.log[i:i+3], want) {
		t.Fatalf("events %q: want %q in a row (three sent before two ended)", rec.log, want)
	}
	if got := ran(t, order); got != "123" {
		t.Fatalf("order %q", got)
	}
}

// Behind a task with a deadline the next task waits for its result: a
// deadline passing as the result travels would fail a task that
// succeeded on the target.
func TestNoQueueingBehindATaskWithATimeout(t *testing.T) {
	cfg, _ := loadPlan(t, secretVar+localList(`
  task "exec" "two" {
    command = ["true"]
    timeout = "1m"
  }
  task "exec" "three" { command = ["true", var.secret] }
`))
	rec := &record{}
	sink := engine.SinkFunc(func(e engine.Event) {
		if e.Type == engine.EventTask {
			rec.add(e.Task)
		}
	})
	if _, err := engine.Run(context.Background(), cfg, engine.Options{Sink: sink, Sensitive: rec.secretSeen}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tasks.l.two", "three's arguments", "tasks.l.three"}; !slices.Equal(rec.log, want) {
		t.Fatalf("events %q, want %q", rec.log, want)
	}
}

// A task queued behind one that fails never starts; behind one allowed to
// fail it does; behind one that fails and then succeeds on a retry it
// runs once, after it.
func TestQueuedTaskStopsWithTheFailureBeforeIt(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" { command = ["false"] }
  task "exec" "three" { command = "echo 3 >> ORDER" }
`))
	res, ev := apply(t, cfg, engine.Options{})
	if !res.Failed() {
		t.Fatal("no failure")
	}
	expectStatus(t, ev, "three", engine.StatusNotRun)
	if got := ran(t, order); got != "1" {
		t.Fatalf("order %q: the task after the failure ran", got)
	}
}

func TestQueuedTaskAfterAnAllowedFailure(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "two" {
    command       = ["false"]
    allow_failure = true
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
`))
	_, ev := apply(t, cfg, engine.Options{})
	expectStatus(t, ev, "three", engine.StatusChanged)
	if got := ran(t, order); got != "3" {
		t.Fatalf("order %q", got)
	}
}

func TestQueuedTaskAfterASuccessfulRetry(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "two" {
    command = "echo 2 >> ORDER; test -e ORDER.done || { touch ORDER.done; exit 1; }"
    retries = 1
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
  task "exec" "four" { command = "echo 4 >> ORDER" }
`))
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	if got := ran(t, order); got != "2234" {
		t.Fatalf("order %q, want 2234: the retry, then three and four once each", got)
	}
}

// A task allowed to fail but tried again: the task after it waits for the
// last try, and runs once.
func TestQueuedTaskAfterAnAllowedFailureWithRetries(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "two" {
    command       = "echo 2 >> ORDER; test -e ORDER.done || { touch ORDER.done; exit 1; }"
    retries       = 1
    allow_failure = true
  }
  task "exec" "three" { command = "echo 3a >> ORDER; echo 3b >> ORDER" }
`))
	res, ev := apply(t, cfg, engine.Options{})
	if res.Failed() {
		t.Fatalf("failed: %+v", ev.all)
	}
	if got := strings.Join(lines(t, order), " "); got != "2 2 3a 3b" {
		t.Fatalf("order %q, want the retry, then three once", got)
	}
}

// A stop while a task runs lets it finish and withdraws the task queued
// behind it, which does not start.
func TestStopWithdrawsTheQueuedTask(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "two" { command = "`+waitForGo+`; echo 2 >> ORDER" }
  task "exec" "three" { command = "echo 3 >> ORDER" }
`))
	stop := make(chan struct{})
	ev, finish := backgroundRun(t, context.Background(), cfg, engine.Options{Stop: stop}, order+".started")
	close(stop)
	if err := os.WriteFile(order+".go", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := finish()
	expectStatus(t, ev, "two", engine.StatusChanged)
	expectStatus(t, ev, "three", engine.StatusNotRun)
	if got := ran(t, order); got != "2" {
		t.Fatalf("order %q: three ran after the stop", got)
	}
	if !res.Interrupted {
		t.Fatal("the run is not marked interrupted")
	}
}

// Cancelling the run while a queued task runs: it is recorded failed (it
// ran, and was cancelled), it is not tried again, and nothing after it
// starts.
func TestCancelWhileAQueuedTaskRuns(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "one" { command = "echo 1 >> ORDER" }
  task "exec" "two" {
    command = "echo 2 >> ORDER; `+waitForGo+`"
    retries = 2
  }
  task "exec" "three" { command = "echo 3 >> ORDER" }
`))
	ev := cancelOnceStarted(t, cfg, order)
	expectStatus(t, ev, "two", engine.StatusFailed)
	expectStatus(t, ev, "three", engine.StatusNotRun)
	if got := ran(t, order); got != "12" {
		t.Fatalf("order %q: want two once and three never", got)
	}
}

// Cancelling the run while a task allowed to fail runs: the task queued
// behind it never starts, and is recorded not run, as the agent answers.
func TestCancelBehindAnAllowedFailure(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "one" {
    command       = "`+waitForGo+`"
    allow_failure = true
  }
  task "exec" "two" { command = "echo 2 >> ORDER" }
`))
	ev := cancelOnceStarted(t, cfg, order)
	expectStatus(t, ev, "one", engine.StatusFailed)
	expectStatus(t, ev, "two", engine.StatusNotRun)
	if got := ran(t, order); got != "" {
		t.Fatalf("two ran: %q", got)
	}
}

// The agent lost while a task runs: the host is unreachable once, and the
// task queued behind it is not run.
func TestAgentLostWithATaskQueued(t *testing.T) {
	cfg, order := loadPlan(t, localList(`
  task "exec" "one" { command = "kill -9 $PPID" }
  task "exec" "two" { command = "echo 2 >> ORDER" }
`))
	res, ev := apply(t, cfg, engine.Options{})
	expectStatus(t, ev, "one", engine.StatusUnreachable)
	expectStatus(t, ev, "two", engine.StatusNotRun)
	if r := res.Recap["me"]; r.Unreachable != 1 {
		t.Fatalf("recap %+v: want one unreachable", r)
	}
	if got := ran(t, order); got != "" {
		t.Fatalf("two ran: %q", got)
	}
}

// A stop while the task before is reported, with the queued task already
// running on the agent and losing the host: the queued task ran, so the
// host is unreachable in it, not "not run".
func TestStopThenHostLostInTheQueuedTask(t *testing.T) {
	cfg, order := loadPlan(t, localList(sensitiveOne(`["echo", "one-out"]`, "")+`
  task "exec" "two" { command = "touch ORDER.two; kill -9 $PPID" }
`))
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
	expectStatus(t, ev, "two", engine.StatusUnreachable)
	if r := res.Recap["me"]; r.Unreachable != 1 {
		t.Fatalf("recap %+v", r)
	}
}

// A queued task's output follows the report of the task before it, even
// when that report is slow to come (here the masking hook, called with a
// sensitive result, dawdles while the next task already runs and prints).
func TestQueuedTaskOutputFollowsTheTaskBefore(t *testing.T) {
	cfg, _ := loadPlan(t, localList(sensitiveOne(`["echo", "one-out"]`, "")+`
  task "exec" "two" { command = ["echo", "two-out"] }
`))
	rec := &record{}
	sink := engine.SinkFunc(func(e engine.Event) {
		switch e.Type {
		case engine.EventTask:
			rec.add(e.Task)
		case engine.EventOutput:
			rec.add(e.Line)
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
	if want := []string{"one-out", "tasks.l.one", "two-out", "tasks.l.two"}; !slices.Equal(rec.log, want) {
		t.Fatalf("events %q, want %q", rec.log, want)
	}
}

// A task queued behind one that fails, and sent again when the list goes
// on: its reported duration counts from when it was sent again, not from
// the failure's result (here followed by a slow report).
func TestDurationOfAQueuedTaskSentAgain(t *testing.T) {
	cfg, _ := loadPlan(t, localList(sensitiveOne(`"echo one-out; exit 1"`, `
    allow_failure = true
    retries       = 1`)+`
  task "exec" "two" { command = ["true"] }
`))
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

// sensitiveOne is task "one", sensitive, running command (HCL), with more
// arguments when given: the masking hook then sees its result, before it
// is reported, and can hold the report back.
func sensitiveOne(command, more string) string {
	return "  task \"exec\" \"one\" {\n    command   = " + command + "\n    sensitive = true" + more + "\n  }\n"
}

// resultWith reports whether v is a task's result (not its arguments, which
// the masking hook also sees) whose output holds s.
func resultWith(v cty.Value, s string) bool {
	ty := v.Type()
	return ty.IsObjectType() && ty.HasAttribute("stdout") && strings.Contains(v.GoString(), s)
}

// cancelOnceStarted runs cfg and cancels it once ORDER.started exists.
func cancelOnceStarted(t *testing.T, cfg *plan.Config, order string) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, finish := backgroundRun(t, ctx, cfg, engine.Options{}, order+".started")
	cancel()
	finish()
	return ev
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
