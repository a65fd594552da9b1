package tunnel

import (
	"fmt"
	"os"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
)

// AgentCommand is the first argument that makes a chopplan binary (or any
// program built with this library) serve as an agent on stdin and stdout.
const AgentCommand = "agent"

// AgentArgv is the command line that starts the agent in executable exe.
func AgentArgv(exe string) []string { return []string{exe, AgentCommand} }

// IsAgentInvocation reports whether this process was started as an agent.
func IsAgentInvocation() bool { return len(os.Args) > 1 && os.Args[1] == AgentCommand }

// ServeAgentIfInvoked serves as an agent and exits when this process was
// started as one. A program that uses the library calls it first thing in
// main (and tests in TestMain): its own binary is then the agent, with
// every function it registered in builtins.Default.
func ServeAgentIfInvoked() {
	if !IsAgentInvocation() {
		return
	}
	os.Exit(ServeAgent())
}

// ServeAgent serves the agent protocol on stdin and stdout until the
// controller goes away, and returns the process exit status.
func ServeAgent() int {
	stdio := &stdioStream{}
	self := agent.Hello{Version: agent.Version, Build: agent.SelfBuild()}
	if err := agent.Serve(stdio, builtins.Default, self); err != nil {
		fmt.Fprintf(os.Stderr, "chopplan agent: %v\n", err)
		return 1
	}
	return 0
}

// stdioStream is the agent's side of its stream.
type stdioStream struct{}

func (stdioStream) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdioStream) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdioStream) Close() error {
	os.Stdout.Close()
	return os.Stdin.Close()
}
