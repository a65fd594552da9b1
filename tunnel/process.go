package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	stderr *os.File // read here, and copied out until stderrDone

	once       sync.Once
	waitDone   chan struct{} // the process has exited
	waitErr    error
	stderrDone chan struct{} // every holder of its stderr has closed it
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
	// Stderr is a pipe of ours, copied to stderr here rather than by
	// os/exec, whose Wait would then wait for every holder of the pipe
	// (a relaying command's children, a root agent under sudo) to close
	// it: Close bounds that wait itself.
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if len(extraEnv) > 0 {
		cmd.Env = append(os.Environ(), extraEnv...)
	}
	// A process group of its own: a Ctrl-C at the terminal goes to the
	// controller's group, and the controller decides what it stops (the
	// first lets running tasks finish); the agent ends when its input does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p := &processStream{cmd: cmd, stdin: inW, stdout: outR, stderr: errR,
		waitDone: make(chan struct{}), stderrDone: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.waitDone)
	}()
	go func() {
		if stderr == nil {
			stderr = io.Discard
		}
		io.Copy(stderr, errR)
		close(p.stderrDone)
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
// started, then a kill if it lingers. Its stderr is copied out until
// whatever holds it closes it (a relaying command's children may outlive
// the command), within the same grace.
func (p *processStream) Close() error {
	p.once.Do(func() {
		p.stdin.Close()
		deadline := time.Now().Add(closeGrace)
		select {
		case <-p.waitDone:
		case <-time.After(closeGrace):
			p.kill()
			<-p.waitDone
			deadline = time.Now().Add(time.Second)
		}
		// What is left of the grace (a second after a kill) for what
		// still holds stderr: then what is left of the group is killed,
		// and the rest (outside the group, or not ours) keeps a pipe no
		// one reads.
		select {
		case <-p.stderrDone:
		case <-time.After(time.Until(deadline)):
			p.kill()
			p.stderr.Close() // ends the copy
			<-p.stderrDone
		}
		p.stdout.Close()
	})
	return nil
}

// kill ends the process and the rest of its process group: a command
// that relays the stream (the exec kind) may have started children that
// hold its stdout open, which a kill of the command alone leaves reading
// on. The group is signalled while its id is its own: while the leader
// is not yet waited for, or some member lives (a group's id is not given
// to another process while it has members). A member that is not this
// user's (a root agent under sudo) is not reached.
func (p *processStream) kill() {
	pgid := p.cmd.Process.Pid
	select {
	case <-p.waitDone:
		if groupHasMembers(pgid) {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	default:
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	p.cmd.Process.Kill()
}

// groupHasMembers reports whether a live process is in process group
// pgid, from /proc.
func groupHasMembers(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parens.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
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
