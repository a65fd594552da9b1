package tunnel

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
)

// relayFunc is the builtin a near agent runs to start a far one and relay
// its stream.
const relayFunc = "tunnel.open"

// via reaches its host through another tunnel's agent: the near agent
// starts the far one (any Describer kind) and relays its stdin and stdout
// over one call's data streams, so the controller speaks to the far agent
// end to end.
type via struct {
	parent *Tunnel
	child  Kind
}

// Via returns the kind that starts child from parent's agent. The far
// agent's depth is one more than parent's; past Options.MaxDepth (default
// 2) connecting fails with a clear error.
func Via(parent *Tunnel, child Kind) Kind { return &via{parent: parent, child: child} }

func (v *via) Name() string { return v.child.Name() }

func (v *via) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	d, ok := v.child.(Describer)
	if !ok {
		return nil, fmt.Errorf("via %s: a %T cannot be started from another agent", v.parent.Name(), v.child)
	}
	kind, args := d.Describe()
	toFar, toFarW := io.Pipe()
	fromFarR, fromFar := io.Pipe()
	callCtx, cancel := context.WithCancel(context.Background())
	s := &viaStream{w: toFarW, r: fromFarR, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_, err := v.parent.CallWith(callCtx, relayFunc, map[string]any{"kind": kind, "args": args}, &agent.CallOptions{
			In: toFar, Out: fromFar,
			Output: func(stream int, p []byte) { env.Stderr.Write(p) },
		})
		if err == nil {
			err = io.EOF
		}
		fromFar.CloseWithError(err)
		toFar.CloseWithError(err)
	}()
	return s, nil
}

// ExpectedBuild is the build the near agent will start: its own.
func (v *via) ExpectedBuild() string { return expectedBuild(v.parent.kind) }

// viaStream is the controller's end of a relayed agent stream.
type viaStream struct {
	w      *io.PipeWriter
	r      *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (s *viaStream) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *viaStream) Write(p []byte) (int, error) { return s.w.Write(p) }

// Close ends the far agent's input, lets the relay finish (the far agent
// exits and its stream ends), then cancels the relay call if it lingers.
func (s *viaStream) Close() error {
	s.once.Do(func() {
		s.w.Close()
		select {
		case <-s.done:
		case <-time.After(closeGrace):
			s.cancel()
			<-s.done
		}
		s.r.Close()
	})
	return nil
}

func init() {
	builtins.MustRegister(builtins.Spec{
		Name: relayFunc,
		Doc:  "Starts an agent of another kind from this one and relays its stream on the call's data streams (the far end of a via tunnel).",
		Args: []builtins.Arg{
			{Name: "kind", Type: cty.String, Required: true},
			{Name: "args", Type: cty.DynamicPseudoType},
		},
		Run: relay,
	})
}

func relay(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	depth := cc.Depth() + 1
	if max := cc.MaxDepth(); max > 0 && depth > max {
		return cty.NilVal, fmt.Errorf("tunnel depth %d exceeds the limit of %d", depth, max)
	}
	kind, err := NewKind(args.GetAttr("kind").AsString(), args.GetAttr("args"))
	if err != nil {
		return cty.NilVal, err
	}
	stream, err := kind.Start(cc.Context(), &StartEnv{Agents: DefaultAgentBinaries(), Stderr: cc.Stderr(), Depth: depth})
	if err != nil {
		return cty.NilVal, fmt.Errorf("starting %s: %w", kind.Name(), err)
	}
	go func() {
		io.Copy(stream, cc.Recv())
		stream.Close()
	}()
	go func() {
		<-cc.Context().Done()
		stream.Close()
	}()
	_, err = io.Copy(cc.Send(), stream)
	stream.Close()
	return cty.NilVal, err
}
