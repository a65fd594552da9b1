package engine

import (
	"context"
	"errors"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/tunnel"
)

// A host's tasks run one after another, each once the one before has
// succeeded. Waiting for each result before sending the next call would
// cost every task a round trip and the controller's handling of the
// result, during which the target idles. So while a task's call runs, the
// next task's call is sent too, queued on the agent behind it
// (agent.CallOptions.After): the agent starts it the moment the first one
// succeeds, and never starts it when the first one fails, is cancelled or
// did not start. This is only done when sending early cannot change what
// runs:
//
//   - the running task's success on the agent is its success: it is a
//     single call of a builtin (no for_each, until or changed_when) with
//     no deadline of its own or its list's (a deadline that passes as the
//     result travels would fail a task that succeeded there); after a
//     failure the next one starts only if the running task is allowed to
//     fail and will not be tried again;
//   - the next task's arguments read no task's result and no local file
//     (plan.Task.Stable: they are the same now as in its turn); it has no
//     when, for_each or timeout (which would start counting while it
//     waits), it is a builtin rather than an action that starts on the
//     controller, and an earlier run has not done it already.
//
// A stop (the first Ctrl-C) withdraws the queued call at once: it then
// does not start, and if it had just started it finishes, like any
// running task. Whenever a list ends early, a queued call is waited for
// and recorded as what it was on the host (stopList): not run, or its
// result when it started all the same.

// queuedCall is the next task's call, sent while the task before it runs.
type queuedCall struct {
	task   *plan.Task
	args   cty.Value // the arguments it was sent with, already evaluated
	check  bool
	p      *tunnel.Pending
	lines  *outputLines
	unstop func() bool // forgets the stop hook that withdraws it
	// start is when the result of the call before it came, about when it
	// started on the agent: its reported duration counts from there.
	start        time.Time
	evenIfFailed bool // it runs even when the call before it fails
}

// queuedStarts notes, as the result of the call before it comes (err is
// how that call ended), when the queued call started: when that call
// succeeded, or failed and the queued one was to run even so.
func (h *hostRun) queuedStarts(err error) {
	if q := h.queued; q != nil && (err == nil || q.evenIfFailed) {
		q.start = time.Now()
	}
}

// answerGrace is how long, once a run is cancelled, the engine waits for
// the agent to say whether a queued task had started: its record then
// says what happened on the host (not_run, or failed when it was
// cancelled while running) rather than only that the run was cancelled.
const answerGrace = 2 * time.Second

// notStarted is a queued task that did not start because its list ended
// first; the message says why.
type notStarted struct{ why string }

func (e notStarted) Error() string { return e.why }

// queueable reports whether next's call may be sent while cur's runs.
func (r *runner) queueable(h *hostRun, cur, next *plan.Task) bool {
	_, curAction := actions[cur.Builtin]
	_, nextAction := actions[next.Builtin]
	return !curAction && cur.ForEach == nil && cur.Until == nil && cur.ChangedWhen == nil && cur.Timeout == 0 &&
		!nextAction && next.When == nil && next.ForEach == nil && next.Timeout == 0 && next.Stable() &&
		h.list.Timeout == 0 &&
		(r.opts.Done == nil || !r.opts.Done(h.plan.Name, next.Addr)) &&
		!r.stopped() && h.listCtx.Err() == nil && h.draining == ""
}

// queueNext sends the task after cur, queued behind cur's call p, when
// that is safe (see queueable) and the task would make a call.
func (r *runner) queueNext(h *hostRun, cur *plan.Task, p *tunnel.Pending) {
	if h.list == nil || h.pos+1 >= len(h.list.Tasks) || h.list.Tasks[h.pos] != cur {
		return
	}
	next := h.list.Tasks[h.pos+1]
	if !r.queueable(h, cur, next) {
		return
	}
	args, check, status, err := r.prepare(h, next, nil)
	if err != nil || status != "" {
		return // evaluated again, and reported, in its turn
	}
	lines := r.outputLines(h.plan.Name, next.Addr)
	lines.hold() // until next's turn: its output follows cur's report
	// After a failure the next task runs only when the list goes on: cur
	// is allowed to fail and will not be tried again.
	opts := &agent.CallOptions{Check: check, Output: lines.write, After: p.Pending, AfterEvenIfFailed: cur.AllowFailure && cur.Retries == 0}
	np, err := h.tun.StartWith(h.listCtx, next.Builtin, args, opts)
	if err != nil {
		return // the connection is gone: cur's result says so
	}
	q := &queuedCall{task: next, args: args, check: check, p: np, lines: lines, evenIfFailed: opts.AfterEvenIfFailed}
	q.unstop = context.AfterFunc(r.stopCtx, np.Withdraw)
	h.queued = q
}

// takeQueued returns the queued call for t, if there is one.
func (h *hostRun) takeQueued(t *plan.Task) *queuedCall {
	q := h.queued
	if q == nil || q.task != t {
		return nil
	}
	h.queued = nil
	q.lines.release()
	return q
}

// wait waits for a queued call's result, or the agent's word that it did
// not start (didNotStart).
func (q *queuedCall) wait() (cty.Value, error) {
	q.unstop()
	v, err := q.p.WaitAnswer(answerGrace)
	q.lines.flush()
	return v, err
}

// didNotStart reports whether err is the agent's answer for a queued call
// that never started: the call it was queued after failed (a retry may
// yet succeed), or it was withdrawn or cancelled first.
func didNotStart(err error) bool {
	var re *agent.RemoteError
	return errors.As(err, &re) && re.Kind == agent.KindNotRun
}

// dropQueued withdraws a queued call and waits for the agent's answer,
// for one that cannot have started: queued behind a call that failed and
// is tried again, or behind one that did not start; and, at a list's
// end, any left (none is, as a rule).
func (h *hostRun) dropQueued() {
	if q := h.queued; q != nil {
		h.queued = nil
		q.p.Withdraw()
		q.lines.release()
		q.wait()
	}
}
