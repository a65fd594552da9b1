package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// closeGrace is how long a closed agent gets to exit on its own (it sees
// end of input and kills what it started) before it is killed.
const closeGrace = 3 * time.Second

// processStream is an agent running as a local child process (directly, or
// through sudo, or through a command that relays stdin and stdout).
type processStream struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File

	once     sync.Once
	waitDone chan struct{}
	waitErr  error
}

// startProcess runs argv with its stdin and stdout as the agent stream and
// its stderr to stderr, in a process group of its own. The child is killed
// if this process dies.
func startProcess(ctx context.Context, argv []string, stderr io.Writer, extraEnv []string) (*processStream, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	if len(extraEnv) > 0 {
		cmd.Env = append(os.Environ(), extraEnv...)
	}
	// A process group of its own: a Ctrl-C at the terminal goes to the
	// controller's group, and the controller decides what it stops (the
	// first lets running tasks finish); the agent ends when its input does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Children it leaves holding stderr (a relaying command's) would keep
	// Wait, and so Close, waiting for their end of the pipe.
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p := &processStream{cmd: cmd, stdin: inW, stdout: outR, waitDone: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.waitDone)
	}()
	if err := ctx.Err(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *processStream) Read(b []byte) (int, error) { return p.stdout.Read(b) }

// SetReadDeadline interrupts a blocked Read (agent.Deadliner): a caller
// waiting for its result reads it itself, and steps aside this way.
func (p *processStream) SetReadDeadline(t time.Time) error { return p.stdout.SetReadDeadline(t) }

func (p *processStream) Write(b []byte) (int, error) { return p.stdin.Write(b) }

// CanLend, Lend and Unread make the agent's stdin an agent.PipeLender: a
// put's chunks go into it as pages, not copies. That holds because its
// reader is the agent, or sudo passing it on, and both copy what they
// read; the exec kind, whose command might splice its stdin onwards,
// wraps its process in a bootstrapStream, which does not lend.
func (p *processStream) CanLend() bool        { return true }
func (p *processStream) Lend(b []byte) error  { return lend(p.stdin, b) }
func (p *processStream) Unread() (int, error) { return unread(p.stdin) }

// Close ends the agent: end of input first, so it can kill what it
// started, then a kill if it lingers.
func (p *processStream) Close() error {
	p.once.Do(func() {
		p.stdin.Close()
		select {
		case <-p.waitDone:
		case <-time.After(closeGrace):
			p.kill()
			<-p.waitDone
		}
		p.stdout.Close()
	})
	return nil
}

// kill ends the process and the rest of its process group: a command
// that relays the stream (the exec kind) may have started children that
// hold its stdout open, which a kill of the command alone leaves reading
// on. A member that is not this user's (a root agent under sudo) is not
// reached.
func (p *processStream) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Process.Kill()
}

// Exited reports the agent's exit once it has exited, else nil.
func (p *processStream) Exited() error {
	select {
	case <-p.waitDone:
		if p.waitErr == nil {
			return errors.New("exited with status 0")
		}
		return p.waitErr
	default:
		return nil
	}
}

// PID is the process id of the agent (or of the command relaying to it).
func (p *processStream) PID() int { return p.cmd.Process.Pid }
