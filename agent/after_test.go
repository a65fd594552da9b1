package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// queueAgent serves funcs, and ping, on one end of a socket pair and
// returns a client for the other.
func queueAgent(t *testing.T, funcs funcMap) *Client { return testAgent(t, funcs, nil) }

// testAgent is queueAgent with the agent's end of the pair wrapped by
// wrap, when given.
func testAgent(t *testing.T, funcs funcMap, wrap func(net.Conn) io.ReadWriteCloser) *Client {
	t.Helper()
	ctrl, ag := socketPair(t)
	funcs["ping"] = pingHandler
	var rw io.ReadWriteCloser = ag
	if wrap != nil {
		rw = wrap(ag)
	}
	go Serve(rw, funcs, Hello{Version: "test", Build: "test"})
	cl, err := NewClient(context.Background(), ctrl, ClientConfig{Host: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// gate is a function that blocks until released, then succeeds or fails.
type gate struct {
	release chan struct{}
	started chan struct{}
	fail    bool
}

func newGate(fail bool) *gate {
	return &gate{release: make(chan struct{}), started: make(chan struct{}, 1), fail: fail}
}

func (g *gate) handler(log *eventLog) Handler {
	return func(cc CallContext, _ cty.Value) (cty.Value, error) {
		g.started <- struct{}{}
		<-g.release
		log.add("gate ends")
		if g.fail {
			return cty.NilVal, errors.New("gate failed")
		}
		return cty.True, nil
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, ", ")
}

func counting(log *eventLog, n *atomic.Int32) Handler {
	return func(CallContext, cty.Value) (cty.Value, error) {
		n.Add(1)
		log.add("follower runs")
		return cty.StringVal("ran"), nil
	}
}

func notRun(err error) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Kind == KindNotRun
}

// A call queued after another starts only when that one has ended, even
// though the agent had it while the first still ran.
func TestQueuedCallWaitsForTheCallItFollows(t *testing.T) {
	log := &eventLog{}
	g := newGate(false)
	var ran atomic.Int32
	cl := queueAgent(t, funcMap{"gate": g.handler(log), "follower": counting(log, &ran)})
	ctx := context.Background()
	first := start(t, cl, ctx, "gate", nil)
	<-g.started
	second := start(t, cl, ctx, "follower", &CallOptions{After: first})
	// A call sent after the follower comes back: the agent has read the
	// follower, and a follower that did not wait would be running now.
	ping(t, cl)
	log.add("gate released")
	close(g.release)
	if _, err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	v, err := second.Wait()
	if err != nil || v.AsString() != "ran" {
		t.Fatalf("follower: %#v, %v", v, err)
	}
	if got, want := log.String(), "gate released, gate ends, follower runs"; got != want {
		t.Fatalf("events: %s; want %s", got, want)
	}
}

func pingHandler(CallContext, cty.Value) (cty.Value, error) { return cty.True, nil }

// start sends a call with no arguments, and fails the test when it cannot.
func start(t *testing.T, cl *Client, ctx context.Context, name string, opts *CallOptions) *Pending {
	t.Helper()
	p, err := cl.Start(ctx, name, cty.EmptyObjectVal, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ping makes a call and waits for it: frames are read in order, so the
// agent has dealt with every frame sent before it.
func ping(t *testing.T, cl *Client) {
	t.Helper()
	if _, err := cl.Call(context.Background(), "ping", cty.EmptyObjectVal, nil); err != nil {
		t.Fatal(err)
	}
}

// A call queued after one that fails never starts, unless it is queued
// even if that one fails; the same holds when the first has already
// ended by the time the follower arrives.
func TestQueuedCallAfterAFailure(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fail, anyway bool
		ended        bool // the first has ended before the follower is sent
		wantRun      bool
	}{
		{"after success", false, false, false, true},
		{"after failure", true, false, false, false},
		{"after failure, even if failed", true, true, false, true},
		{"after an ended success", false, false, true, true},
		{"after an ended failure", true, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{}
			g := newGate(tc.fail)
			var ran atomic.Int32
			cl := queueAgent(t, funcMap{"gate": g.handler(log), "follower": counting(log, &ran)})
			ctx := context.Background()
			first := start(t, cl, ctx, "gate", nil)
			if tc.ended {
				close(g.release)
				first.Wait()
			}
			second := start(t, cl, ctx, "follower", &CallOptions{After: first, AfterEvenIfFailed: tc.anyway})
			if !tc.ended {
				close(g.release)
				first.Wait()
			}
			_, err := second.Wait()
			if tc.wantRun != (ran.Load() == 1) || tc.wantRun != (err == nil) {
				t.Fatalf("follower ran %d times, error %v; want it to run: %v", ran.Load(), err, tc.wantRun)
			}
			if !tc.wantRun && !notRun(err) {
				t.Fatalf("follower error %v, want KindNotRun", err)
			}
		})
	}
}

// Withdrawing a queued call keeps it from starting; withdrawing one that
// has started leaves it to finish. Cancelling a queued call's context
// keeps it from starting too.
func TestWithdrawAndCancelQueuedCalls(t *testing.T) {
	log := &eventLog{}
	g := newGate(false)
	var ran atomic.Int32
	cl := queueAgent(t, funcMap{"gate": g.handler(log), "follower": counting(log, &ran)})
	ctx := context.Background()
	first := start(t, cl, ctx, "gate", nil)
	withdrawn := start(t, cl, ctx, "follower", &CallOptions{After: first})
	cctx, cancel := context.WithCancel(ctx)
	cancelled := start(t, cl, cctx, "follower", &CallOptions{After: first})
	withdrawn.Withdraw()
	cancel()
	if _, err := cancelled.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled follower: %v", err)
	}
	if _, err := withdrawn.Wait(); !notRun(err) {
		t.Fatalf("withdrawn follower: %v, want KindNotRun", err)
	}
	// The agent has read the cancel (frames are read in order) once a
	// later call returns; only then may the first call end.
	ping(t, cl)
	close(g.release)
	if _, err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	ping(t, cl)
	if ran.Load() != 0 {
		t.Fatalf("a withdrawn or cancelled follower ran (%d times)", ran.Load())
	}

	// A follower that has started is not stopped by Withdraw.
	g2 := newGate(false)
	cl2 := queueAgent(t, funcMap{"gate": g2.handler(log), "second": g2.handler(log)})
	a := start(t, cl2, ctx, "gate", nil)
	b := start(t, cl2, ctx, "second", &CallOptions{After: a})
	<-g2.started
	g2.release <- struct{}{} // the first ends; the second starts
	<-g2.started
	b.Withdraw()
	ping(t, cl2) // the agent has the withdrawal
	close(g2.release)
	if _, err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Wait(); err != nil || !v.True() {
		t.Fatalf("a started follower, withdrawn: %#v, %v; want it to finish", v, err)
	}
}

// The agent remembers how the last calls ended, a bounded number.
func TestOutcomesForget(t *testing.T) {
	var o outcomes
	for id := uint32(1); id <= maxOutcomes+1; id++ {
		o.add(id, outcome(id%3))
	}
	if _, known := o.get(1); known {
		t.Fatal("the oldest outcome is still remembered")
	}
	if out, known := o.get(2); !known || out != outcome(2) {
		t.Fatalf("outcome of call 2: %v, %v", out, known)
	}
	if out, known := o.get(maxOutcomes + 1); !known || out != outcome((maxOutcomes+1)%3) {
		t.Fatalf("latest outcome: %v, %v", out, known)
	}
	if len(o.of) != maxOutcomes {
		t.Fatalf("%d outcomes kept, want %d", len(o.of), maxOutcomes)
	}
}

// A call can follow only a call on its own client.
func TestQueuedCallOnAnotherClient(t *testing.T) {
	g := newGate(false)
	log := &eventLog{}
	cl1 := queueAgent(t, funcMap{"gate": g.handler(log)})
	cl2 := queueAgent(t, funcMap{"gate": g.handler(log)})
	close(g.release)
	p := start(t, cl1, context.Background(), "gate", nil)
	defer p.Wait()
	if _, err := cl2.Start(context.Background(), "gate", cty.EmptyObjectVal, &CallOptions{After: p}); err == nil || !strings.Contains(err.Error(), "another connection") {
		t.Fatalf("error %v", err)
	}
}

// A call queued, even if failed, after one that never started does not
// start either: it would run before the call it follows.
func TestQueuedCallAfterOneThatDidNotStart(t *testing.T) {
	log := &eventLog{}
	g := newGate(true)
	var ran atomic.Int32
	cl := queueAgent(t, funcMap{"gate": g.handler(log), "follower": counting(log, &ran)})
	ctx := context.Background()
	a := start(t, cl, ctx, "gate", nil)
	b := start(t, cl, ctx, "follower", &CallOptions{After: a})
	c := start(t, cl, ctx, "follower", &CallOptions{After: b, AfterEvenIfFailed: true})
	close(g.release)
	if _, err := a.Wait(); err == nil {
		t.Fatal("the gate did not fail")
	}
	for name, p := range map[string]*Pending{"b": b, "c": c} {
		if _, err := p.Wait(); !notRun(err) {
			t.Fatalf("%s: %v, want KindNotRun", name, err)
		}
	}
	if ran.Load() != 0 {
		t.Fatalf("followers ran %d times", ran.Load())
	}
}

// A call queued, even if failed, behind a call that is cancelled does not
// start: the controller that cancels wants work to stop.
func TestQueuedCallAfterACancelledOne(t *testing.T) {
	started := make(chan struct{})
	var ran atomic.Int32
	log := &eventLog{}
	cl := queueAgent(t, funcMap{
		// Like exec when killed: it fails with its own kind, not "cancelled".
		"stubborn": func(cc CallContext, _ cty.Value) (cty.Value, error) {
			close(started)
			<-cc.Context().Done()
			return cty.NilVal, Fail(KindFailed, cty.NilVal, "killed")
		},
		"follower": counting(log, &ran),
	})
	ctx, cancel := context.WithCancel(context.Background())
	a := start(t, cl, ctx, "stubborn", nil)
	b := start(t, cl, context.Background(), "follower", &CallOptions{After: a, AfterEvenIfFailed: true})
	<-started
	cancel()
	a.Wait()
	if _, err := b.Wait(); !notRun(err) {
		t.Fatalf("follower of a cancelled call: %v, want KindNotRun", err)
	}
	if ran.Load() != 0 {
		t.Fatal("the follower ran")
	}
}
