package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// unread is how many bytes wait in c's receive buffer.
func unread(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioErr error
	rc.Control(func(fd uintptr) { n, ioErr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	return n
}

// A caller waiting for its result reads the stream itself while nobody
// else does; when its context ends part-way through another call's
// result frame, it steps aside and the rest of that frame is read by the
// next reader as if nothing had happened.
func TestWaiterStepsAsideMidFrame(t *testing.T) {
	ids := make(chan uint32, 2)
	rest := make(chan []byte)
	cl, ctrl := fakeAgentConn(t, func(r *bufio.Reader, w io.Writer) {
		ids <- awaitCall(r)
		b := awaitCall(r)
		ids <- b
		body, _ := EncodeValue(cty.StringVal("the result of b"))
		frame := rawFrame(frameResult, b, append([]byte{statusOK}, body...))
		w.Write(frame[:frameHeaderLen+3]) // the header and a little of the payload
		rest <- frame[frameHeaderLen+3:]
		w.Write(<-rest)
		io.Copy(io.Discard, r) // a's cancel, answered with nothing
	})
	if cl.interrupt == nil {
		t.Fatal("a socket's reads are not taken as interruptible")
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := cl.Start(ctx, "hang", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ids
	b, err := cl.Start(context.Background(), "answer", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ids
	waited := make(chan error, 1)
	go func() { _, err := a.Wait(); waited <- err }()
	part := <-rest
	// The leader (a's waiter, the only reader) has taken the partial frame.
	for unread(t, ctrl) != 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("a: %v", err)
	}
	rest <- part
	v, err := b.Wait()
	if err != nil || v.AsString() != "the result of b" {
		t.Fatalf("b: %#v, %v", v, err)
	}
}

// hangingCall starts, on a new agent, a call that runs until cancel.
func hangingCall(t *testing.T) (*Client, *Pending, context.CancelFunc) {
	t.Helper()
	cl := queueAgent(t, funcMap{"hang": func(cc CallContext, _ cty.Value) (cty.Value, error) {
		<-cc.Context().Done()
		return cty.NilVal, cc.Context().Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := cl.Start(ctx, "hang", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cl, p, cancel
}

// A waiter whose context ends while it reads steps aside; a reader
// goroutine reads on while a result is still to come (the cancelled
// call's), and once none is, nobody reads until the next caller waits,
// who then reads its own result.
func TestReaderPartIsHandedOnAndBack(t *testing.T) {
	cl, p, cancel := hangingCall(t)
	waited := make(chan error, 1)
	go func() { _, err := p.Wait(); waited <- err }()
	for !cl.leading(p) {
		runtime.Gosched()
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("hang: %v", err)
	}
	// The cancelled call's answer is read by the goroutine that took over,
	// which then stops.
	for cl.isReading() {
		runtime.Gosched()
	}
	for range 3 {
		if v, err := cl.Call(context.Background(), "ping", cty.NilVal, nil); err != nil || !v.True() {
			t.Fatalf("ping: %#v, %v", v, err)
		}
		if cl.isReading() {
			t.Fatal("someone still reads after the last result came")
		}
	}
}

func (cl *Client) leading(p *Pending) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.leader == p
}

func (cl *Client) isReading() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.reading
}

// A caller whose context ended before it waited reads nothing, yet
// WaitAnswer still gets the agent's answer to the cancel.
func TestAnswerReadAfterContextEndedBeforeWait(t *testing.T) {
	_, p, cancel := hangingCall(t)
	cancel()
	_, err := p.WaitAnswer(time.Minute)
	var re *RemoteError
	if !errors.As(err, &re) || re.Kind != KindCancelled {
		t.Fatalf("answer: %v", err)
	}
}

// When the connection is found gone as a call is sent, only that call is
// marked not sent; a call the agent had received fails as lost.
func TestOnlyTheUnsentCallIsNotSent(t *testing.T) {
	closed := make(chan struct{})
	cl, _ := fakeAgentConn(t, func(r *bufio.Reader, w io.Writer) {
		awaitCall(r)
		w.(io.Closer).Close()
		close(closed)
	})
	a, err := cl.Start(context.Background(), "received", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-closed
	var ce *ConnError
	if _, err := cl.Start(context.Background(), "unsent", cty.NilVal, nil); !errors.As(err, &ce) || !ce.NotSent {
		t.Fatalf("unsent call: %v", err)
	}
	if _, err := a.Wait(); !errors.As(err, &ce) || ce.NotSent {
		t.Fatalf("received call: %v (not sent: %v)", err, ce != nil && ce.NotSent)
	}
	if _, err := cl.Start(context.Background(), "later", cty.NilVal, nil); !errors.As(err, &ce) || !ce.NotSent {
		t.Fatalf("call on the ended connection: %v", err)
	}
}

// A call given up on after its result came is not remembered as one whose
// result may still come (which would keep a reader going for nothing).
func TestGivingUpAfterTheResultRemembersNothing(t *testing.T) {
	cl := queueAgent(t, funcMap{})
	p, err := cl.Start(context.Background(), "ping", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	cl.abandon(p.id)
	if cl.expected(p.id) {
		t.Fatal("a call whose result came is still expected")
	}
}

// A malformed result for a call with a data stream ends that stream too,
// so the call returns rather than waiting for data that will not come.
func TestMalformedResultEndsTheDataStream(t *testing.T) {
	cl := fakeAgent(t, func(r *bufio.Reader, w io.Writer) {
		w.Write(rawFrame(frameResult, awaitCall(r), []byte{statusOK, 0xc1}))
		io.Copy(io.Discard, r)
	})
	var out bytes.Buffer
	if _, err := cl.Call(context.Background(), "fetch", cty.NilVal, &CallOptions{Out: &out}); !IsConnError(err) {
		t.Fatalf("err = %v", err)
	}
}

// writerThatStops takes its first write and then blocks until released:
// a consumer that stopped taking a fetch's data.
type writerThatStops struct{ first, release chan struct{} }

func (w writerThatStops) Write(p []byte) (int, error) {
	select {
	case <-w.first:
		<-w.release
	default:
		close(w.first)
	}
	return len(p), nil
}

// Cancelling a call whose handler waits for flow-control credit (the
// controller's consumer stopped) wakes it: the call ends on the agent and
// its answer comes, and then nobody reads the idle connection.
func TestCancelWakesASenderWaitingForCredit(t *testing.T) {
	ended := make(chan struct{})
	cl := queueAgent(t, funcMap{"fetch": func(cc CallContext, _ cty.Value) (cty.Value, error) {
		defer close(ended)
		_, err := cc.Send().Write(make([]byte, 3*initialWindow))
		return cty.NilVal, err
	}})
	out := writerThatStops{first: make(chan struct{}), release: make(chan struct{})}
	defer close(out.release)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := cl.Start(ctx, "fetch", cty.NilVal, &CallOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	<-out.first
	cancel()
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v", err)
	}
	<-ended
	for cl.isReading() {
		runtime.Gosched()
	}
}
