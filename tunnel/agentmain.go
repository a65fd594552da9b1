package tunnel

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
	"golang.org/x/sys/unix"
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
type stdioStream struct {
	in, out *os.File
	// The pipes' own sizes, 0 for what is not a pipe: Widen gives them back.
	inSize, outSize int
}

func newStdioStream() *stdioStream {
	s := &stdioStream{in: os.Stdin, out: os.Stdout}
	s.inSize, s.outSize = pipeSizeOf(s.in), pipeSizeOf(s.out)
	for _, f := range []**os.File{&s.in, &s.out} {
		fd := int((*f).Fd())
		if syscall.SetNonblock(fd, true) == nil {
			*f = os.NewFile(uintptr(fd), (*f).Name())
		}
	}
	return s
}

// pipeSize is what an agent's stdin and stdout grow to while a data
// stream runs: 16 times the 64 KiB default, so a stream moves in fewer
// wake-ups (local put and fetch: 540-650 MB/s with 1 MiB pipes, against
// 360 with 64 KiB and 370-535 with 256 KiB, in one earlier run).
const pipeSize = 1 << 20

// Widen grows stdin and stdout to pipeSize while a file stream runs, and
// gives the room back after (agent.Widener). sshd, docker and a local
// tunnel's controller make them 64 KiB, which a stream crosses in 32 KiB steps, waking both ends each
// time: a 100 MiB put over SSH took 0.74-1.40 s with them, 0.48-0.66 s
// with 1 MiB. The room is given back because pipe capacity counts
// against the user's limit on the target (pipe-user-pages-soft): past
// it, the user's new pipes get 8 KiB. Refused (not a pipe, the limit
// reached): it stays as it is; data in the way of shrinking makes it
// report false, and the agent asks again when a later call ends.
func (s *stdioStream) Widen(on bool) bool {
	done := true
	for _, p := range []struct {
		f    *os.File
		size int
	}{{s.in, s.inSize}, {s.out, s.outSize}} {
		if p.size == 0 || p.size >= pipeSize {
			continue
		}
		size := p.size
		if on {
			size = pipeSize
		}
		rc, err := p.f.SyscallConn()
		if err == nil {
			rc.Control(func(fd uintptr) { _, err = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
		}
		if !on && errors.Is(err, unix.EBUSY) {
			done = false // data in the way: asked again later
		}
	}
	return done
}

// pipeSizeOf is f's pipe capacity, 0 when f is not a pipe.
func pipeSizeOf(f *os.File) int {
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return 0
	}
	return n
}

// CanLend, Lend and Unread make stdout an agent.PipeLender when it is a
// pipe: a fetch's chunks go into it as pages.
func (s *stdioStream) CanLend() bool        { return s.outSize > 0 }
func (s *stdioStream) Lend(p []byte) error  { return lend(s.out, p) }
func (s *stdioStream) Unread() (int, error) { return unread(s.out) }

func (s *stdioStream) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *stdioStream) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s *stdioStream) Close() error {
	s.out.Close()
	return s.in.Close()
}
