// Package tunnel starts chopplan agents on targets and talks to them. A
// Kind says how to start an agent somewhere (local, sudo, ssh, docker,
// exec, or via another agent); a Tunnel wraps a Kind with the Chopsticks
// behaviour: it connects lazily on first use, can be connected and closed
// explicitly, is safe for many goroutines at once, and after its agent has
// died, the next call starts a new one (state kept in the old agent is lost).
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// DefaultMaxDepth is how deep a chain of via tunnels may go by default.
const DefaultMaxDepth = 2

// Options tune a Tunnel. The zero value is ready to use.
type Options struct {
	// Output receives the agent's stderr and the live output of calls, each
	// line prefixed "host | ". Nil means os.Stderr.
	Output io.Writer
	// Agents finds agent binaries to ship. Nil means DefaultAgentBinaries().
	Agents *AgentBinaries
	// MaxDepth limits chains of via tunnels (DefaultMaxDepth when 0).
	MaxDepth int
	// ConnectTimeout bounds starting the agent and its handshake (default 30s).
	ConnectTimeout time.Duration
}

// Tunnel is a connection to one agent, made when first needed.
type Tunnel struct {
	kind  Kind
	opts  Options
	depth int

	out *LineWriter
	cur atomic.Pointer[session]
	mu  sync.Mutex // serialises connecting and closing
}

// session is one running agent and the client speaking to it.
type session struct {
	client *agent.Client
	stream Stream
	stderr *tailBuffer
	lines  *LinePrefixer // the agent's stderr, printed
}

// end closes the session's stream and prints what is left of the
// agent's last stderr line.
func (s *session) end() error {
	err := s.stream.Close()
	s.lines.Flush()
	return err
}

// New returns a Tunnel that starts its agent with kind.
func New(kind Kind, opts Options) *Tunnel {
	if opts.Output == nil {
		opts.Output = os.Stderr
	}
	if opts.Agents == nil {
		opts.Agents = DefaultAgentBinaries()
	}
	if opts.MaxDepth == 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	t := &Tunnel{kind: kind, opts: opts, depth: 1, out: NewLineWriter(opts.Output)}
	if v, ok := kind.(*via); ok {
		t.depth = v.parent.depth + 1
	}
	return t
}

// Name is the host name of the tunnel: the key of its results.
func (t *Tunnel) Name() string { return t.kind.Name() }

// Kind is how the tunnel reaches its host.
func (t *Tunnel) Kind() Kind { return t.kind }

func (t *Tunnel) String() string { return fmt.Sprintf("%T(%s)", t.kind, t.kind.Name()) }

// UnreachableError is a host whose agent could not be started or reached.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string { return fmt.Sprintf("%s unreachable: %v", e.Host, e.Err) }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Connect starts the agent now rather than on first use.
func (t *Tunnel) Connect(ctx context.Context) error {
	_, err := t.session(ctx)
	return err
}

// Peer describes the running agent (connecting if needed).
func (t *Tunnel) Peer(ctx context.Context) (agent.Hello, error) {
	s, err := t.session(ctx)
	if err != nil {
		return agent.Hello{}, err
	}
	return s.client.Peer(), nil
}

func (t *Tunnel) session(ctx context.Context) (*session, error) {
	if s := t.cur.Load(); s != nil && s.client.Err() == nil {
		return s, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.cur.Load(); s != nil {
		if s.client.Err() == nil {
			return s, nil
		}
		s.end()
		t.cur.Store(nil)
	}
	if t.depth > t.opts.MaxDepth {
		return nil, &UnreachableError{Host: t.Name(), Err: fmt.Errorf("tunnel depth %d exceeds the limit of %d (raise it with MaxDepth)", t.depth, t.opts.MaxDepth)}
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.ConnectTimeout)
	defer cancel()
	tail := &tailBuffer{}
	lines := t.out.Stream(t.Name(), 2)
	var s *session
	defer func() {
		if s == nil { // a failed start: its last words are printed now
			lines.Flush()
		}
	}()
	stderr := io.MultiWriter(lines, tail)
	stream, err := t.kind.Start(ctx, &StartEnv{Agents: t.opts.Agents, Stderr: stderr, Depth: t.depth})
	if err != nil {
		return nil, &UnreachableError{Host: t.Name(), Err: err}
	}
	self := agent.Hello{Version: agent.Version, Build: agent.SelfBuild(), Depth: t.depth, MaxDepth: t.opts.MaxDepth}
	cl, err := agent.NewClient(ctx, stream, agent.ClientConfig{Host: t.Name(), Self: self, Build: expectedBuild(t.kind)})
	if err != nil {
		stream.Close()
		err = explainStartFailure(t.kind, tail, err)
		return nil, &UnreachableError{Host: t.Name(), Err: err}
	}
	s = &session{client: cl, stream: stream, stderr: tail, lines: lines}
	t.cur.Store(s)
	return s, nil
}

func isVersionError(err error) bool {
	var ve *agent.VersionError
	return errors.As(err, &ve)
}

// StartFailureExplainer is a Kind that can tell, from what its agent wrote
// on stderr, why it did not start (a sudo password prompt, say). It returns
// an error that says what to fix, or nil when it does not recognise the case.
type StartFailureExplainer interface {
	ExplainStartFailure(stderr string) error
}

// explainStartFailure adds to a failed handshake what the agent said.
func explainStartFailure(k Kind, tail *tailBuffer, err error) error {
	if isVersionError(err) {
		return err
	}
	if ex, ok := k.(StartFailureExplainer); ok {
		if why := ex.ExplainStartFailure(tail.String()); why != nil {
			return why
		}
	}
	if last := tail.lastLine(); last != "" {
		return fmt.Errorf("%w; its last words: %s", err, last)
	}
	return err
}

// BuildExpecter is a Kind that knows which build its agent will report.
// Kinds that start the controller's own executable need not implement it.
type BuildExpecter interface{ ExpectedBuild() string }

func expectedBuild(k Kind) string {
	if be, ok := k.(BuildExpecter); ok {
		return be.ExpectedBuild()
	}
	return agent.SelfBuild()
}

// Close ends the agent; the Tunnel may be used again and will reconnect.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.cur.Swap(nil)
	if s == nil {
		return nil
	}
	s.client.Close()
	return s.end()
}

// Call runs the builtin fn with args on the target and returns its result.
// args is a cty object, a map[string]any, or nil (see agent.GoValue). Live
// output of the call is printed to the tunnel's Output, prefixed with the
// host name.
func (t *Tunnel) Call(ctx context.Context, fn string, args any) (cty.Value, error) {
	return t.CallWith(ctx, fn, args, nil)
}

// CallWith is Call with the protocol's options: check mode, data streams,
// and an output callback instead of the tunnel's Output.
func (t *Tunnel) CallWith(ctx context.Context, fn string, args any, opts *agent.CallOptions) (cty.Value, error) {
	p, err := t.StartWith(ctx, fn, args, opts)
	if err != nil {
		return cty.NilVal, err
	}
	return p.Wait()
}

// A Pending is a call sent with StartWith whose result is still to come.
// Wait must be called once.
type Pending struct {
	*agent.Pending
	lines *hostLines // the tunnel's output lines, when the call has no Output
}

// Wait returns the call's result; see agent.Pending.
func (p *Pending) Wait() (cty.Value, error) { return p.flushed(p.Pending.Wait()) }

// WaitAnswer is agent.Pending's WaitAnswer.
func (p *Pending) WaitAnswer(grace time.Duration) (cty.Value, error) {
	return p.flushed(p.Pending.WaitAnswer(grace))
}

func (p *Pending) flushed(v cty.Value, err error) (cty.Value, error) {
	if p.lines != nil {
		p.lines.flush()
	}
	return v, err
}

// StartWith sends a call and returns without waiting for its result, so
// that another can be queued behind it on the agent (CallOptions.After
// set to this call's Pending) and start there the moment this one ends.
func (t *Tunnel) StartWith(ctx context.Context, fn string, args any, opts *agent.CallOptions) (*Pending, error) {
	av, err := agent.GoValue(args)
	if err != nil {
		return nil, fmt.Errorf("tunnel: %s on %s: arguments: %w", fn, t.Name(), err)
	}
	s, err := t.session(ctx)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.After != nil {
		// Queued behind a call on this session: never on another.
		return t.start(ctx, s, fn, av, opts)
	}
	p, err := t.start(ctx, s, fn, av, opts)
	var ce *agent.ConnError
	if errors.As(err, &ce) && ce.NotSent {
		// The agent was found gone as the call was sent (an idle
		// connection is not read, so its end is seen here): the call
		// never reached it, and goes to a new one.
		if s, err = t.session(ctx); err != nil {
			return nil, err
		}
		return t.start(ctx, s, fn, av, opts)
	}
	return p, err
}

func (t *Tunnel) start(ctx context.Context, s *session, fn string, av cty.Value, opts *agent.CallOptions) (*Pending, error) {
	// A copy: the caller's options may be shared by calls on other hosts.
	o := agent.CallOptions{}
	if opts != nil {
		o = *opts
	}
	opts = &o
	p := &Pending{}
	if opts.Output == nil {
		p.lines = t.out.host(t.Name())
		opts.Output = p.lines.write
	}
	var err error
	if p.Pending, err = s.client.Start(ctx, fn, av, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// Tunnels makes a single tunnel act as a group of one, as Chopsticks
// tunnels do in set operations and queues.
func (t *Tunnel) Tunnels() []*Tunnel { return []*Tunnel{t} }
