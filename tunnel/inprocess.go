package tunnel

import (
	"context"
	"io"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
)

// inProcess serves the agent protocol in a goroutine of this process: the
// same frames, values and builtins as a real agent, without a process or
// a pipe. It is for measuring the engine itself and for tests of logic;
// it proves nothing about reaching a machine.
type inProcess struct{ name string }

// InProcess returns the kind whose agent is a goroutine of this process.
func InProcess(name string) Kind { return &inProcess{name: name} }

func (p *inProcess) Name() string { return p.name }

func (p *inProcess) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	toAgent, fromCtl := io.Pipe()
	fromAgent, toCtl := io.Pipe()
	agentEnd := &pipeStream{r: toAgent, w: toCtl}
	go func() {
		agent.Serve(agentEnd, builtins.Default, agent.Hello{Version: agent.Version, Build: agent.SelfBuild()})
		agentEnd.Close()
	}()
	return &pipeStream{r: fromAgent, w: fromCtl}, nil
}

func (p *inProcess) Describe() (string, cty.Value) {
	return "in-process", cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(p.name)})
}

// pipeStream joins the two in-memory pipes of one end.
type pipeStream struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	once sync.Once
}

func (s *pipeStream) Read(b []byte) (int, error)  { return s.r.Read(b) }
func (s *pipeStream) Write(b []byte) (int, error) { return s.w.Write(b) }
func (s *pipeStream) Close() error {
	s.once.Do(func() {
		s.w.Close()
		s.r.Close()
	})
	return nil
}
