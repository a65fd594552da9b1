package agent

import (
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// Kinds of RemoteError.
const (
	KindFailed          = "failed"           // the function returned an error
	KindCancelled       = "cancelled"        // the controller cancelled the call
	KindUnknownFunction = "unknown_function" // no function of that name on the agent
	KindBadArguments    = "bad_arguments"    // the arguments did not fit the function
	KindPanic           = "panic"            // the function panicked; Detail has the stack
	KindMismatch        = "mismatch"         // data received does not match the sender's sha256
	KindNotRun          = "not_run"          // a queued call that never started (see CallOptions.After)
)

// RemoteError is a call that failed on the target. Its fields came from the
// target and are plain data.
type RemoteError struct {
	Host    string
	Func    string
	Kind    string
	Message string
	Detail  string    // a stack trace or other long detail, may be empty
	Value   cty.Value // a result that came with the failure (an exec's rc and output), or cty.NilVal
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Host, e.Func, e.Message)
}

// Fail makes a handler error of the given kind with a value that travels
// with it.
func Fail(kind string, value cty.Value, format string, args ...any) error {
	return &RemoteError{Kind: kind, Message: fmt.Sprintf(format, args...), Value: value}
}

// ConnError is a call that could not complete because the connection to
// the agent ended: the agent exited, the transport broke, or the agent sent
// something that broke the protocol.
type ConnError struct {
	Host string
	Err  error
	// NotSent is set when the connection was found gone while a call was
	// being sent: that call never reached the agent, so it may be sent
	// again on a new one.
	NotSent bool
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("agent: connection to %s lost: %v", e.Host, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// IsConnError reports whether err means the agent connection is gone.
func IsConnError(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce)
}
