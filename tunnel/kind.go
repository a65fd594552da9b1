package tunnel

import (
	"context"
	"io"
)

// Kind is one way of starting a chopplan agent somewhere: local, sudo, ssh,
// docker, exec, or via another agent. It is the small interface every kind
// implements; Tunnel adds lazy connection, reconnection and the calls.
type Kind interface {
	// Name is the host name: the key of results and the prefix of output.
	Name() string
	// Start starts an agent and returns its byte stream: writes go to the
	// agent's stdin, reads come from its stdout. Closing the stream must end
	// the agent and everything it started.
	Start(ctx context.Context, env *StartEnv) (Stream, error)
}

// Stream is a running agent's stdin and stdout. Close ends the agent.
type Stream interface {
	io.ReadWriteCloser
}

// StartEnv is what a Kind needs from the controller to start an agent.
type StartEnv struct {
	// Agents finds the agent binary for a target's OS and architecture.
	Agents *AgentBinaries
	// Stderr receives the agent's own stderr (already tagged with the host
	// name by the caller). Never nil.
	Stderr io.Writer
	// Depth is the depth of the agent being started: 1 for an agent the
	// controller starts directly, 2 for one started through it, and so on.
	Depth int
}
