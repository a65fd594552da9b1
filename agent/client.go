package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// ClientConfig says who the client talks to and what it expects.
type ClientConfig struct {
	// Host names the target in every error and output line.
	Host string
	// Self is this controller's hello. Depth and MaxDepth tell the agent
	// where it sits in a chain of via tunnels.
	Self Hello
	// Build, when set, is the build identity the agent must report: the
	// binary that was started. A different one is a VersionError.
	Build string
	// MaxResult bounds one call's result value in bytes, the most a target
	// can make the controller hold for one call (MaxBody when 0). Bulk data
	// belongs in Fetch, which streams.
	MaxResult int
}

// Client is the controller's end of one agent. It is safe for use by many
// goroutines; calls are multiplexed over the one stream.
type Client struct {
	host string
	c    *conn
	peer Hello
	next atomic.Uint32

	maxResult int
	dead      chan struct{} // closed when the stream has ended
	cause     error         // why, set before dead is closed

	// Who reads: one goroutine at a time holds the reader's part and reads
	// frames with fr, handing each to the call it belongs to. On a stream
	// whose reads a deadline can interrupt (interrupt is set: a local
	// agent's pipe), a caller waiting for its result takes the part when
	// nobody has it and reads until its own result is in (lead), so the
	// result needs no hand-over from another goroutine: that hand-over, a
	// wake-up of another thread, was a quarter of a local round trip.
	// When it leaves with frames still to come for other calls, a reader
	// goroutine takes over (readOn) until none are; calls with a data
	// stream start one at once. On other streams that goroutine reads
	// from the handshake on, for the life of the connection.
	fr        frameReader
	bodies    bodies
	interrupt func(time.Time) error // the stream's SetReadDeadline, or nil

	mu        sync.Mutex
	calls     map[uint32]*clientCall
	abandoned map[uint32]bool // cancelled calls whose results may still come
	reading   bool            // a goroutine holds the reader's part
	leader    *Pending        // the waiting caller that holds it, if one does
	stopped   bool            // the leader's read was interrupted (its deadline set)
}

// A Deadliner is a stream whose blocked Read a deadline interrupts with
// os.ErrDeadlineExceeded, losing nothing: an *os.File on a pipe.
type Deadliner interface{ SetReadDeadline(time.Time) error }

// CallOptions are the optional parts of a call.
type CallOptions struct {
	// Check runs the function in check mode: it reports, it changes nothing.
	Check bool
	// In is streamed to the call's data stream (a put's content, stdin).
	In io.Reader
	// Out receives the call's data stream back (a fetch's content). The
	// call returns after Out has had all of it.
	Out io.Writer
	// Output receives live output as it arrives: stream 1 is stdout, 2 is
	// stderr. It runs on whichever goroutine reads the stream (a waiting
	// caller's, or the client's reader) and must not block for long.
	Output func(stream int, p []byte)
	// After queues the call on the agent behind a call sent earlier on the
	// same client: it starts when that one has ended, and only if that one
	// succeeded unless AfterEvenIfFailed. Otherwise it never starts and
	// fails with KindNotRun. A controller so sends a list's next task
	// while the current one runs, and the agent goes from one to the next
	// without waiting for a round trip.
	After             *Pending
	AfterEvenIfFailed bool
}

type clientCall struct {
	fn     string
	done   chan struct{}
	value  cty.Value
	err    error
	output func(int, []byte)
	recv   *recvStream
	send   *sendStream
}

// NewClient performs the handshake on rw and starts the client. When ctx
// ends before the agent answers, rw is closed and ctx's error returned.
func NewClient(ctx context.Context, rw io.ReadWriteCloser, cfg ClientConfig) (*Client, error) {
	cl := &Client{host: cfg.Host, c: newConn(cfg.Host, rw), dead: make(chan struct{}), calls: map[uint32]*clientCall{}, abandoned: map[uint32]bool{}, maxResult: cfg.MaxResult}
	if cl.maxResult <= 0 {
		cl.maxResult = MaxBody
	}
	self := cfg.Self
	self.Protocol = ProtocolVersion
	hb, _ := json.Marshal(self)

	type answer struct {
		h   Hello
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		if err := cl.c.send(frameHello, 0, hb); err != nil {
			ch <- answer{err: &StartError{Host: cfg.Host, Reason: "writing the handshake: " + err.Error()}}
			return
		}
		h, err := readHello(cfg.Host, cl.c.r)
		ch <- answer{h, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		cl.c.close()
		return nil, fmt.Errorf("agent: handshake with %s: %w", cfg.Host, ctx.Err())
	}
	if a.err != nil {
		cl.c.close()
		return nil, a.err
	}
	if a.h.Protocol != ProtocolVersion || (cfg.Build != "" && a.h.Build != cfg.Build) {
		cl.c.close()
		return nil, &VersionError{Host: cfg.Host, Controller: self, Agent: a.h}
	}
	cl.peer = a.h
	cl.fr.r = cl.c.r
	cl.bodies.limit = cl.maxResult
	if d, ok := rw.(Deadliner); ok && d.SetReadDeadline(time.Time{}) == nil {
		cl.interrupt = d.SetReadDeadline
	} else {
		cl.reading = true
		go cl.readOn()
	}
	return cl, nil
}

// Peer is the agent's hello: its version, build, OS, architecture and pid.
func (cl *Client) Peer() Hello { return cl.peer }

// Done is closed when the connection has ended; Err then says why.
func (cl *Client) Done() <-chan struct{} { return cl.dead }

// Err is why the connection ended, or nil while it is up.
func (cl *Client) Err() error {
	select {
	case <-cl.dead:
		return cl.cause
	default:
		return nil
	}
}

// Close ends the connection; the agent sees end of input and exits,
// killing what it started. Calls in flight fail with a ConnError.
func (cl *Client) Close() error {
	cl.c.close()
	// Ended here, not left to a reader: there may be none (an idle
	// connection), or one about to stop.
	cl.fail(&ConnError{Host: cl.host, Err: errors.New("connection closed")})
	return nil
}

// Call runs the function name on the agent with args (an object, or
// cty.NilVal for none) and returns its result. A failure on the target is
// a *RemoteError; a lost connection is a *ConnError. Cancelling ctx cancels
// the call on the agent, which kills what the call started.
func (cl *Client) Call(ctx context.Context, name string, args cty.Value, opts *CallOptions) (cty.Value, error) {
	p, err := cl.Start(ctx, name, args, opts)
	if err != nil {
		return cty.NilVal, err
	}
	return p.Wait()
}

// A Pending is a call that has been sent: Wait gives its result, and
// must be called once (its data streams and its place in the client are
// released there). ctx, given to Start, still cancels it.
type Pending struct {
	cl      *Client
	id      uint32
	ctx     context.Context
	name    string
	call    *clientCall
	outDone chan error
}

// Start sends a call and returns without waiting for its result, so that
// the next one can be sent meanwhile: with CallOptions.After, the agent
// queues that one until this one has ended. On a stream that is read by
// its waiting callers (see Client.fr), the call's live output and result
// are read while some call on the client is waited for, or a data stream
// runs: call Wait soon after Start.
func (cl *Client) Start(ctx context.Context, name string, args cty.Value, opts *CallOptions) (*Pending, error) {
	if len(name) > 255 {
		return nil, fmt.Errorf("agent: function name %.40q… longer than 255 bytes", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agent: %s on %s: %w", name, cl.host, err)
	}
	if opts == nil {
		opts = &CallOptions{}
	}
	var flags byte
	var after uint32
	if opts.After != nil {
		if opts.After.cl != cl {
			return nil, fmt.Errorf("agent: %s on %s: queued after a call on another connection", name, cl.host)
		}
		flags |= flagAfter
		after = opts.After.id
		if opts.AfterEvenIfFailed {
			flags |= flagEvenIfFailed
		}
	}
	ab, _, err := encodeValueParts(args)
	if err != nil {
		return nil, err
	}
	id := cl.next.Add(1)
	call := &clientCall{fn: name, done: make(chan struct{}), output: opts.Output}
	if opts.Check {
		flags |= flagCheck
	}
	if opts.In != nil {
		flags |= flagSendData
		call.send = newSendStream(cl.c, id)
	}
	if opts.Out != nil {
		flags |= flagWantData
		call.recv = newRecvStream(cl.c, id)
	}
	cl.mu.Lock()
	if err := cl.Err(); err != nil {
		cl.mu.Unlock()
		return nil, notSent(err)
	}
	cl.calls[id] = call
	cl.mu.Unlock()

	if err := cl.c.sendBody(frameCall, id, callHead(name, flags, after), ab); err != nil {
		// The agent cannot be written to: it is gone (an idle
		// connection whose agent died is found out here).
		cl.forget(id)
		cl.fail(&ConnError{Host: cl.host, Err: err})
		return nil, notSent(cl.Err())
	}
	if call.send != nil || call.recv != nil {
		cl.ensureReader() // flow control needs a reader while the stream runs
	}
	if call.send != nil {
		go func() {
			var err error
			if wt, ok := opts.In.(io.WriterTo); ok {
				_, err = wt.WriteTo(call.send) // the source hands over its own chunks
			} else {
				_, err = call.send.ReadFrom(opts.In)
			}
			if !errors.Is(err, errStreamClosed) {
				call.send.close(err)
			}
		}()
	}
	p := &Pending{cl: cl, id: id, ctx: ctx, name: name, call: call}
	if call.recv != nil {
		p.outDone = make(chan error, 1)
		go func() {
			_, err := call.recv.WriteTo(opts.Out)
			var local *outputError
			if errors.As(err, &local) && !closed(call.done) {
				// The output failed (a full disk): the agent is told to
				// stop, or it would wait for window that never comes.
				cl.c.send(frameCancel, id)
			}
			p.outDone <- err
		}()
	}
	return p, nil
}

// Withdraw asks the agent not to start a call queued with
// CallOptions.After if it has not started yet; Wait then returns a
// RemoteError of KindNotRun. A call already running is left to finish.
func (p *Pending) Withdraw() {
	if !p.cl.expected(p.id) {
		return
	}
	p.cl.c.send(frameCancel, p.id, []byte{cancelWithdraw})
}

// Wait waits for the call's result (and, with CallOptions.Out, for all of
// its data stream) or for its context to end, which cancels it.
func (p *Pending) Wait() (cty.Value, error) { return p.wait(0) }

// WaitAnswer is Wait, except that when the context ends it cancels the
// call and then waits up to grace for the agent's answer, which says what
// happened on the target: a queued call that never started answers
// KindNotRun, a cancelled one KindCancelled. With no answer by then it
// returns the context's error, as Wait does.
func (p *Pending) WaitAnswer(grace time.Duration) (cty.Value, error) { return p.wait(grace) }

// cancel cancels the call on the agent once its context has ended, and
// reports whether the agent's answer came within grace (none is waited
// for when grace is 0). Without it, the call is given up: its result, if
// it comes, is dropped.
func (p *Pending) cancel(grace time.Duration) (answered bool) {
	cl := p.cl
	// The answer, or the result given up on, is read even when nobody
	// else waits: a caller whose context has ended does not read.
	if grace > 0 {
		cl.c.send(frameCancel, p.id)
		cl.ensureReader()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.call.done:
			return true
		case <-t.C:
		}
		cl.abandon(p.id)
	} else {
		cl.abandon(p.id) // before the cancel goes: its result may come at once
		cl.c.send(frameCancel, p.id)
		cl.ensureReader()
	}
	p.call.abort(p.ctx.Err())
	return false
}

func (p *Pending) wait(grace time.Duration) (cty.Value, error) {
	cl, call, ctx, name := p.cl, p.call, p.ctx, p.name
	if cl.interrupt != nil && !closed(call.done) && ctx.Err() == nil {
		cl.lead(p)
	}
	select {
	case <-call.done:
	default: // a result already in wins over a context ended meanwhile
		select {
		case <-call.done:
		case <-ctx.Done():
			if !p.cancel(grace) {
				return cty.NilVal, fmt.Errorf("agent: %s on %s: %w", name, cl.host, ctx.Err())
			}
		}
	}
	if call.send != nil {
		call.send.abort(errStreamClosed)
	}
	if p.outDone != nil {
		select {
		case err := <-p.outDone:
			var local *outputError
			if err != nil && (call.err == nil || errors.As(err, &local)) {
				call.err = fmt.Errorf("agent: %s on %s: data stream: %w", name, cl.host, err)
			}
		case <-ctx.Done():
			call.abort(ctx.Err())
			return cty.NilVal, fmt.Errorf("agent: %s on %s: %w", name, cl.host, ctx.Err())
		}
	}
	return call.value, call.err
}

func (c *clientCall) abort(err error) {
	if c.send != nil {
		c.send.abort(err)
	}
	if c.recv != nil {
		c.recv.end(err)
	}
}

func (cl *Client) forget(id uint32) {
	cl.mu.Lock()
	delete(cl.calls, id)
	cl.mu.Unlock()
}

// abandon forgets a cancelled call but remembers its id until its result
// comes, since the agent may already be sending it.
func (cl *Client) abandon(id uint32) {
	cl.mu.Lock()
	if cl.calls[id] != nil { // else its result is in already
		delete(cl.calls, id)
		cl.abandoned[id] = true
	}
	cl.mu.Unlock()
}

// expected reports whether a result for id may come: the call is in
// flight, or was cancelled while its result may already be on the way.
func (cl *Client) expected(id uint32) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.calls[id] != nil || cl.abandoned[id]
}

func (cl *Client) lookup(id uint32) *clientCall {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.calls[id]
}

// notSent is err, the connection's end, as the error of a call that was
// not sent because of it (ConnError.NotSent).
func notSent(err error) error {
	if ce, ok := err.(*ConnError); ok {
		c := *ce
		c.NotSent = true
		return &c
	}
	return err
}

// lead reads frames for p's caller until p's result is in or p's context
// ends, if nobody else is reading; then it hands the reader's part on
// (see Client.reading).
func (cl *Client) lead(p *Pending) {
	cl.mu.Lock()
	if cl.reading || cl.cause != nil {
		cl.mu.Unlock()
		return
	}
	cl.reading, cl.leader = true, p
	cl.mu.Unlock()
	stop := context.AfterFunc(p.ctx, func() {
		cl.mu.Lock()
		if cl.leader == p && !cl.stopped {
			cl.stopped = true
			cl.interrupt(time.Now())
		}
		cl.mu.Unlock()
	})
	err := cl.readUntil(func() bool { return closed(p.call.done) || p.ctx.Err() != nil })
	stop()
	cl.mu.Lock()
	cl.leader = nil
	if cl.stopped {
		cl.stopped = false
		cl.interrupt(time.Time{})
	}
	if err != nil && !interrupted(err) {
		cl.mu.Unlock()
		cl.end(err)
		return
	}
	cl.passOn()
	cl.mu.Unlock()
}

// ensureReader starts a reader goroutine unless someone is reading.
func (cl *Client) ensureReader() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if !cl.reading && cl.cause == nil {
		cl.reading = true
		go cl.readOn()
	}
}

// passOn is called, with cl.mu held, by a reader leaving: when frames are
// still to come (calls in flight, results of cancelled ones) a reader
// goroutine takes over, else nobody reads until the next caller waits.
func (cl *Client) passOn() {
	if (len(cl.calls) > 0 || len(cl.abandoned) > 0) && cl.cause == nil {
		go cl.readOn()
		return
	}
	cl.reading = false
}

// readOn is the reader goroutine: it reads while frames are to come (for
// the life of the connection on a stream no deadline interrupts), and
// ends the connection when the stream ends.
func (cl *Client) readOn() {
	err := cl.readUntil(func() bool {
		if cl.interrupt == nil {
			return false
		}
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if len(cl.calls) > 0 || len(cl.abandoned) > 0 {
			return false
		}
		cl.reading = false
		return true
	})
	if err != nil {
		cl.end(err)
	}
}

// end ends the connection after reading failed: err is why.
func (cl *Client) end(err error) {
	if errors.Is(err, io.EOF) {
		err = errors.New("the agent closed the connection (it exited or was killed)")
	}
	if _, ok := err.(*ConnError); !ok {
		err = &ConnError{Host: cl.host, Err: err}
	}
	cl.fail(err)
}

// fail ends the connection, if it has not ended, with err as the reason:
// every call in flight fails with it.
func (cl *Client) fail(err error) {
	cl.mu.Lock()
	if cl.cause != nil {
		cl.mu.Unlock()
		return
	}
	cl.cause = err
	calls := cl.calls
	cl.calls = map[uint32]*clientCall{}
	close(cl.dead)
	cl.mu.Unlock()
	cl.c.close()
	for _, call := range calls {
		call.err = err
		call.abort(err)
		close(call.done)
	}
}

// readUntil reads and hands out frames until done says to stop (asked
// after each frame) or reading fails.
func (cl *Client) readUntil(done func() bool) error {
	for !done() {
		if err := cl.readOne(); err != nil {
			return err
		}
	}
	return nil
}

// readOne reads one frame and hands it to its call.
func (cl *Client) readOne() error {
	b := &cl.bodies
	protocolErr := func(format string, args ...any) error {
		return &ProtocolError{Host: cl.host, Reason: fmt.Sprintf(format, args...)}
	}
	f, err := cl.fr.next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || interrupted(err) {
			return err
		}
		return protocolErr("%v", err)
	}
	switch f.typ {
	case framePart:
		if !cl.expected(f.id) {
			return protocolErr("part of a result for call %d, which is not in flight", f.id)
		}
		if !b.add(f.id, f.chunk) {
			return protocolErr("result of call %d larger than %d bytes", f.id, cl.maxResult)
		}
	case frameResult:
		body, ok := b.finish(f.id, f.payload)
		if !ok {
			return protocolErr("result of call %d larger than %d bytes", f.id, cl.maxResult)
		}
		cl.mu.Lock()
		call := cl.calls[f.id]
		delete(cl.calls, f.id)
		delete(cl.abandoned, f.id)
		cl.mu.Unlock()
		if call == nil {
			return nil // cancelled and forgotten
		}
		call.value, call.err = decodeResult(cl.host, call.fn, body)
		if call.err != nil {
			if _, remote := call.err.(*RemoteError); !remote {
				err := protocolErr("call %d (%s): %v", f.id, call.fn, call.err)
				call.err = &ConnError{Host: cl.host, Err: err}
				call.abort(call.err) // its data stream ends too: fail will not see the call
				close(call.done)
				return err
			}
		}
		close(call.done)
	case frameOutput:
		if call := cl.lookup(f.id); call != nil && call.output != nil && len(f.payload) > 0 {
			call.output(int(f.payload[0]), f.payload[1:])
		}
	case frameData:
		if f.chunk == nil {
			return nil // empty
		}
		call := cl.lookup(f.id)
		switch {
		case call == nil:
			f.chunk.Release() // for a call given up on
		case call.recv == nil:
			f.chunk.Release()
			return protocolErr("data for call %d, which asked for none", f.id)
		case !call.recv.push(f.chunk):
			return protocolErr("call %d sent data beyond its flow-control window", f.id)
		}
	case frameDataEnd:
		if call := cl.lookup(f.id); call != nil && call.recv != nil {
			call.recv.end(streamEndError(f.payload))
		}
	case frameWindow:
		if call := cl.lookup(f.id); call != nil && call.send != nil {
			if len(f.payload) != 4 {
				return protocolErr("malformed window frame")
			}
			call.send.addWindow(int(f.payload[0])<<24 | int(f.payload[1])<<16 | int(f.payload[2])<<8 | int(f.payload[3]))
		}
	default:
		return protocolErr("unexpected %s frame", f.typ)
	}
	return nil
}
