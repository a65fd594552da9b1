package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"

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

// A waiter whose context ends while it reads steps aside; a reader
// goroutine reads on while a result is still to come (the cancelled
// call's), and once none is, nobody reads until the next caller waits,
// who then reads its own result.
func TestReaderPartIsHandedOnAndBack(t *testing.T) {
	cl := queueAgent(t, funcMap{"hang": func(cc CallContext, _ cty.Value) (cty.Value, error) {
		<-cc.Context().Done()
		return cty.NilVal, cc.Context().Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := cl.Start(ctx, "hang", cty.NilVal, nil)
	if err != nil {
		t.Fatal(err)
	}
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
