package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// drainTimeout bounds how long the agent waits, once its controller has
// gone, for cancelled calls to kill what they started and return.
const drainTimeout = 5 * time.Second

// Serve runs the agent side of the protocol on rw (normally stdin and
// stdout) until the controller closes the stream. self describes this
// agent; its Depth and MaxDepth are taken from the controller's hello.
func Serve(rw io.ReadWriteCloser, funcs Functions, self Hello) error {
	s := &server{c: newConn("controller", rw), funcs: funcs, calls: map[uint32]*serverCall{}, work: make(chan func())}
	s.bodies.limit = MaxBody
	s.widen, _ = rw.(Widener)
	defer s.c.close()

	peer, err := readHello("controller", s.c.r)
	if err != nil {
		return err
	}
	self.Protocol = ProtocolVersion
	self.Depth, self.MaxDepth = peer.Depth, peer.MaxDepth
	if self.OS == "" {
		self.OS, self.Arch, self.PID = runtime.GOOS, runtime.GOARCH, os.Getpid()
	}
	s.self = self
	hb, _ := json.Marshal(self)
	if err := s.c.send(frameHello, 0, hb); err != nil {
		return err
	}
	if peer.Protocol != ProtocolVersion {
		return &VersionError{Host: "controller", Controller: peer, Agent: self}
	}
	s.readErr = make(chan error, 1)
	s.dispatch(s.read)
	err = <-s.readErr
	s.shutdown()
	close(s.work) // idle workers see a nil job and end
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// A Widener is a transport whose buffers can grow while data streams run:
// the agent's stdin and stdout pipes, which sshd and docker make 64 KiB.
// Serve calls Widen(true) when the first call with a data stream starts
// and Widen(false) when the last one ends; Widen(false) reports whether
// the buffers are back to their size (data still in them can stop it),
// and until they are, Serve asks again as later calls end.
type Widener interface{ Widen(on bool) (done bool) }

type server struct {
	c      *conn
	funcs  Functions
	self   Hello
	bodies bodies
	widen  Widener // nil when rw is not one

	mu      sync.Mutex
	calls   map[uint32]*serverCall
	ended   outcomes // how recent calls ended, for calls queued after them
	streams int      // calls with a data stream running
	wide    bool     // the transport is widened (or not yet given back)
	wg      sync.WaitGroup

	// Calls run on reused goroutines: a fresh goroutine grows its stack
	// anew on every call, which showed as a tenth of an agent's CPU.
	work chan func()
	idle atomic.Int32

	// readErr receives why reading stopped (io.EOF: the controller left).
	readErr chan error
}

// maxIdleWorkers bounds the goroutines kept waiting for calls.
const maxIdleWorkers = 32

// dispatch runs job on an idle worker, or a new one.
func (s *server) dispatch(job func()) {
	select {
	case s.work <- job:
	default:
		go s.worker(job)
	}
}

func (s *server) worker(job func()) {
	for {
		job()
		if s.idle.Add(1) > maxIdleWorkers {
			s.idle.Add(-1)
			return
		}
		job = <-s.work
		s.idle.Add(-1)
		if job == nil {
			return
		}
	}
}

// read is the reader's part: it reads frames and handles them until a
// call arrives; then it hands the part to another goroutine and runs the
// call itself. A call so starts on the goroutine that read it, without
// waiting for another to wake, and the next reader gets going meanwhile.
func (s *server) read() {
	for {
		f, err := readFrame(s.c.r)
		if err == nil {
			var sc *serverCall
			var args []byte
			if sc, args, err = s.handle(f); err == nil && sc != nil {
				s.dispatch(s.read)
				sc.run(args)
				return
			}
		}
		if err != nil {
			s.readErr <- err
			return
		}
	}
}

// handle acts on one frame from the controller. A call frame that
// completes a call's body returns the call, registered, to be run.
func (s *server) handle(f frame) (*serverCall, []byte, error) {
	switch f.typ {
	case framePart:
		if !s.bodies.add(f.id, f.chunk) {
			return nil, nil, fmt.Errorf("call %d: body larger than %d bytes", f.id, MaxBody)
		}
	case frameCall:
		body, ok := s.bodies.finish(f.id, f.payload)
		if !ok {
			return nil, nil, fmt.Errorf("call %d: body larger than %d bytes", f.id, MaxBody)
		}
		return s.start(f.id, body)
	case frameCancel:
		if sc := s.call(f.id); sc != nil {
			if len(f.payload) == 1 && f.payload[0] == cancelWithdraw {
				sc.withdraw()
			} else {
				sc.cancel()
				if sc.send != nil {
					// A handler waiting for flow-control credit would wait
					// for good: the controller grants none to a call it
					// has cancelled.
					sc.send.abort(errStreamClosed)
				}
			}
		}
	case frameData:
		if f.chunk == nil {
			break // empty
		}
		if sc := s.call(f.id); sc != nil && sc.recv != nil {
			if !sc.recv.push(f.chunk) {
				return nil, nil, fmt.Errorf("call %d: data beyond the flow-control window", f.id)
			}
		} else {
			f.chunk.Release() // for a call that has ended
		}
	case frameDataEnd:
		if sc := s.call(f.id); sc != nil && sc.recv != nil {
			sc.recv.end(streamEndError(f.payload))
		}
	case frameWindow:
		if sc := s.call(f.id); sc != nil && sc.send != nil && len(f.payload) == 4 {
			sc.send.addWindow(int(f.payload[0])<<24 | int(f.payload[1])<<16 | int(f.payload[2])<<8 | int(f.payload[3]))
		}
	default:
		return nil, nil, fmt.Errorf("unexpected %s frame from the controller", f.typ)
	}
	return nil, nil, nil
}

func streamEndError(payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	return fmt.Errorf("sender aborted the stream: %s", payload)
}

func (s *server) call(id uint32) *serverCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// start registers the call that body describes, to be run with the
// returned arguments.
func (s *server) start(id uint32, body []byte) (*serverCall, []byte, error) {
	flags, name, after, args, err := parseCall(body)
	if err != nil {
		return nil, nil, fmt.Errorf("call %d: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := &serverCall{s: s, id: id, name: name, ctx: ctx, cancel: cancel, check: flags&flagCheck != 0}
	if flags&flagAfter != 0 {
		sc.after, sc.evenIfFailed = after, flags&flagEvenIfFailed != 0
		sc.withdrawn = make(chan struct{})
	}
	if flags&flagSendData != 0 {
		sc.recv = newRecvStream(s.c, id)
	}
	if flags&flagWantData != 0 {
		sc.send = newSendStream(s.c, id)
	}
	s.mu.Lock()
	if _, dup := s.calls[id]; dup {
		s.mu.Unlock()
		cancel()
		return nil, nil, fmt.Errorf("call id %d reused while in flight", id)
	}
	s.calls[id] = sc
	if sc.follows() {
		// The call it follows was registered before this one arrived: it
		// is running, or it has ended and left its outcome.
		if pred := s.calls[sc.after]; pred != nil && pred != sc {
			sc.pred = pred
			if pred.finished == nil {
				pred.finished = make(chan struct{})
			}
		}
	}
	if sc.hasStream() {
		if s.streams++; s.streams == 1 && s.widen != nil {
			s.widen.Widen(true)
			s.wide = true
		}
	}
	s.mu.Unlock()
	s.wg.Add(1)
	return sc, args, nil
}

// shutdown cancels every call, because the controller is gone, and waits
// a bounded time for them to clean up.
func (s *server) shutdown() {
	s.mu.Lock()
	for _, sc := range s.calls {
		sc.cancel()
		if sc.recv != nil {
			sc.recv.end(errors.New("controller went away"))
		}
		if sc.send != nil {
			sc.send.abort(errors.New("controller went away"))
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
}

// serverCall is one call running in the agent; it is its CallContext.
type serverCall struct {
	s      *server
	id     uint32
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	check  bool
	recv   *recvStream
	send   *sendStream

	// A call queued after another (flagAfter) starts when that one ends,
	// and only when it succeeded unless evenIfFailed. It can be withdrawn
	// until it starts. s.mu guards started and closing withdrawn.
	after        uint32
	evenIfFailed bool
	pred         *serverCall   // the call it follows, when it was running
	withdrawn    chan struct{} // made for a queued call; closed when it is withdrawn
	started      bool

	// finished is made when a call is queued after this one, and closed
	// (under s.mu) when this one has ended, with outcome set.
	finished chan struct{}
	outcome  outcome
}

// follows reports whether the call was queued after another.
func (sc *serverCall) follows() bool { return sc.withdrawn != nil }

func (sc *serverCall) hasStream() bool { return sc.recv != nil || sc.send != nil }

// withdraw stops a queued call from starting; one that has started, or
// that follows nothing, goes on.
func (sc *serverCall) withdraw() {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	if sc.follows() && !sc.started && !closed(sc.withdrawn) {
		close(sc.withdrawn)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (sc *serverCall) run(args []byte) {
	defer sc.s.wg.Done()
	var v cty.Value
	rerr := sc.awaitPredecessor()
	if rerr == nil {
		v, rerr = sc.invoke(args)
	}
	if sc.recv != nil {
		// Nobody reads the call's input any more: wake a reader that may
		// still wait on it and drop what is buffered.
		sc.recv.end(errStreamClosed)
	}
	if sc.send != nil {
		if rerr != nil {
			sc.send.close(errors.New(rerr.Message))
		} else {
			sc.send.close(nil)
		}
	}
	if sc.ctx.Err() != nil && rerr == nil {
		// Cancelled but the handler ignored it: still report it as such.
		rerr = &RemoteError{Kind: KindCancelled, Message: "cancelled"}
	}
	status, body, err := encodeResult(v, rerr)
	if err != nil {
		status, body, _ = encodeResult(cty.NilVal, &RemoteError{Kind: KindFailed, Message: "result could not be encoded: " + err.Error()})
	}
	sc.s.mu.Lock()
	delete(sc.s.calls, sc.id)
	out := outcomeOf(rerr)
	if sc.ctx.Err() != nil && out != outcomeNotRun {
		out = outcomeCancelled // whatever the function made of it
	}
	sc.s.ended.add(sc.id, out)
	if sc.hasStream() {
		sc.s.streams--
	}
	sc.s.narrow()
	sc.outcome = out
	if sc.finished != nil {
		close(sc.finished)
	}
	sc.s.mu.Unlock()
	sc.cancel()
	sc.s.c.sendBody(frameResult, sc.id, []byte{status}, body)
}

// awaitPredecessor waits, for a call queued after another, until that one
// has ended, and says why the call must not run: the call it follows
// failed, was cancelled or did not start, or this one was withdrawn or
// cancelled while it waited. Either way it never started (KindNotRun).
func (sc *serverCall) awaitPredecessor() *RemoteError {
	if !sc.follows() {
		return nil
	}
	notRun := func(why string) *RemoteError { return &RemoteError{Kind: KindNotRun, Message: "not started: " + why} }
	if sc.pred != nil {
		select {
		case <-sc.pred.finished:
		case <-sc.withdrawn:
		case <-sc.ctx.Done():
		}
	}
	s := sc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case closed(sc.withdrawn):
		return notRun("withdrawn")
	case sc.ctx.Err() != nil:
		return notRun("cancelled")
	}
	pred, known := s.ended.get(sc.after)
	if sc.pred != nil {
		pred, known = sc.pred.outcome, true // it has finished: the ring may have let it go
	}
	switch {
	case !known:
		return notRun(fmt.Sprintf("queued after call %d, which this agent does not know", sc.after))
	case pred == outcomeNotRun:
		return notRun("the call it was queued after did not start")
	case pred == outcomeCancelled:
		return notRun("the call it was queued after was cancelled")
	case pred == outcomeFailed && !sc.evenIfFailed:
		return notRun("the call it was queued after failed")
	}
	sc.started = true
	return nil
}

// outcomes remembers whether the last calls to end succeeded, so that a
// call queued after one that has already ended still learns how it
// ended. A controller queues a call right after the one it follows, so a
// short memory is enough.
type outcomes struct {
	of    map[uint32]outcome
	order [maxOutcomes]uint32
	next  int
}

const maxOutcomes = 64

// outcome is how a call ended, as a call queued after it sees it. One
// that did not start (KindNotRun) stops its followers even when they
// would run after a failure, since they must not run before it; so does
// a cancelled one, since the controller that cancels wants work to stop.
type outcome byte

const (
	outcomeOK outcome = iota
	outcomeFailed
	outcomeNotRun
	outcomeCancelled
)

func outcomeOf(rerr *RemoteError) outcome {
	switch {
	case rerr == nil:
		return outcomeOK
	case rerr.Kind == KindNotRun:
		return outcomeNotRun
	case rerr.Kind == KindCancelled:
		return outcomeCancelled
	}
	return outcomeFailed
}

func (o *outcomes) add(id uint32, out outcome) {
	if o.of == nil {
		o.of = make(map[uint32]outcome, maxOutcomes)
	}
	if len(o.of) == maxOutcomes {
		delete(o.of, o.order[o.next])
	}
	o.of[id] = out
	o.order[o.next] = id
	o.next = (o.next + 1) % maxOutcomes
}

func (o *outcomes) get(id uint32) (out outcome, known bool) {
	out, known = o.of[id]
	return out, known
}

// narrow gives the transport's room back once no stream runs, when it
// is still widened (a stream's last data still in a pipe stops a shrink:
// any later call's end tries again). s.mu is held.
func (s *server) narrow() {
	if s.wide && s.streams == 0 && s.widen.Widen(false) {
		s.wide = false
	}
}

func (sc *serverCall) invoke(args []byte) (v cty.Value, rerr *RemoteError) {
	defer func() {
		if p := recover(); p != nil {
			v, rerr = cty.NilVal, &RemoteError{Kind: KindPanic, Message: fmt.Sprintf("panic: %v", p), Detail: string(debug.Stack())}
		}
	}()
	h, ok := sc.s.funcs.Lookup(sc.name)
	if !ok {
		return cty.NilVal, &RemoteError{Kind: KindUnknownFunction, Message: fmt.Sprintf("no function %q on this agent (%s)", sc.name, sc.s.self)}
	}
	a, err := decodeOwned(args) // the call's body, which nothing else reads
	if err != nil {
		return cty.NilVal, &RemoteError{Kind: KindBadArguments, Message: err.Error()}
	}
	v, err = h(sc, a)
	if err == nil {
		return v, nil
	}
	var re *RemoteError
	if errors.As(err, &re) {
		out := *re
		if out.Kind == "" {
			out.Kind = KindFailed
		}
		if out.Value == cty.NilVal {
			out.Value = v
		}
		return cty.NilVal, &out
	}
	kind := KindFailed
	if sc.ctx.Err() != nil {
		kind = KindCancelled
	}
	return cty.NilVal, &RemoteError{Kind: kind, Message: err.Error(), Value: v}
}

func (sc *serverCall) Context() context.Context { return sc.ctx }
func (sc *serverCall) Check() bool              { return sc.check }
func (sc *serverCall) Depth() int               { return sc.s.self.Depth }
func (sc *serverCall) MaxDepth() int            { return sc.s.self.MaxDepth }
func (sc *serverCall) Stdout() io.Writer        { return outputWriter{sc, 1} }
func (sc *serverCall) Stderr() io.Writer        { return outputWriter{sc, 2} }

func (sc *serverCall) Recv() io.Reader {
	if sc.recv == nil {
		return eofReader{}
	}
	return sc.recv
}

func (sc *serverCall) Send() io.Writer {
	if sc.send == nil {
		return io.Discard
	}
	return sc.send
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// outputWriter sends live output of a call as output frames.
type outputWriter struct {
	sc     *serverCall
	stream byte
}

func (w outputWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxFramePayload-1)]
		if err := w.sc.s.c.send(frameOutput, w.sc.id, []byte{w.stream}, chunk); err != nil {
			return n - len(p), err
		}
		p = p[len(chunk):]
	}
	return n, nil
}
