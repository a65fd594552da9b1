package agent

import (
	"context"
	"io"

	"github.com/zclconf/go-cty/cty"
)

// CallContext is what a function running inside the agent sees of its call.
type CallContext interface {
	// Context is cancelled when the controller cancels the call or goes away.
	Context() context.Context
	// Check reports check mode: describe what would change, change nothing.
	Check() bool
	// Stdout and Stderr send live output to the controller as it happens.
	Stdout() io.Writer
	Stderr() io.Writer
	// Recv reads the data stream the controller sends with the call (a put's
	// content, a command's stdin). It returns io.EOF when the sender is done.
	Recv() io.Reader
	// Send writes the call's data stream back to the controller (a fetch's
	// content), with flow control.
	Send() io.Writer
	// Depth is this agent's depth: 1 when the controller started it directly.
	Depth() int
	// MaxDepth is the deepest agent the controller allows (via tunnels).
	MaxDepth() int
}

// Handler runs one call. A handler may return a value with an error: the
// value travels with the failure (an exec's rc, stdout and stderr).
type Handler func(cc CallContext, args cty.Value) (cty.Value, error)

// Functions is how the serve loop finds what to run for a call by name.
type Functions interface {
	Lookup(name string) (Handler, bool)
}
