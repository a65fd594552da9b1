package tunnel

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"

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
	if path := os.Getenv("CHOPPLAN_AGENT_CPUPROFILE"); path != "" {
		// A performance aid: profile the agent's side of a run.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	stdio := newStdioStream()
	self := agent.Hello{Version: agent.Version, Build: agent.SelfBuild()}
	if err := agent.Serve(stdio, builtins.Default, self); err != nil {
		fmt.Fprintf(os.Stderr, "chopplan agent: %v\n", err)
		return 1
	}
	return 0
}

// stdioStream is the agent's side of its stream: stdin and stdout, made
// non-blocking so Go waits for them in its network poller. A goroutine
// parked there wakes on the thread that polls, without handing the
// processor to another thread as a blocked system call does; the round
// trip of a trivial call is mostly such hand-offs.
type stdioStream struct{ in, out *os.File }

func newStdioStream() *stdioStream {
	s := &stdioStream{in: os.Stdin, out: os.Stdout}
	for _, f := range []**os.File{&s.in, &s.out} {
		fd := int((*f).Fd())
		if syscall.SetNonblock(fd, true) == nil {
			*f = os.NewFile(uintptr(fd), (*f).Name())
		}
	}
	return s
}

func (s *stdioStream) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *stdioStream) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s *stdioStream) Close() error {
	s.out.Close()
	return s.in.Close()
}
