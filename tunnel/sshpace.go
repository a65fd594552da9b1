package tunnel

import (
	"io"
	"sync"
)

// Pacing the agent's upload to an SSH server.
//
// OpenSSH's sshd reads a connection as fast as packets arrive, up to the
// channel's window (2 MB), but can pass on to the session's stdin only
// what the pipe takes (64 KiB until the command reads it), so a large
// write to a command that reads slowly piles up in sshd's channel buffer.
// That buffer grows only as far as each packet needs, and each growth
// copies all it holds into a new allocation: sending the 5.8 MB
// compressed agent to the bootstrap script's head -c made sshd fault in
// some 160 MB of fresh pages and took 65-145 ms, where the same bytes sent
// no faster than the server reads them take 25-45 ms (docs/performance.md,
// "Sixth run"). OpenSSH's own client pays the same cost.
//
// A pacedWriter keeps at most pacingLimit bytes written and not yet known
// to be read by the server. What the server has read is learnt from a
// global request with a reply (keepalive@openssh.com, as OpenSSH's client
// sends): a server handles a connection's messages in order, so its reply
// to a request sent after N bytes says it has read those N bytes. One
// request is outstanding at a time, sent when pacingChunk bytes or more
// have gone since the last reply. Only the bootstrap is paced: the agent
// reads its stdin as fast as sshd writes it, and pacing its stream slowed
// a 100 MiB put from 0.33 to 0.42 s.
const (
	pacingChunk = 64 << 10
	pacingLimit = 128 << 10
)

// pacedWriter paces writes to w by round trips through probe, which must
// send a request after everything written so far and return once the
// server has answered it. A probe that fails (the connection is gone)
// ends the pacing: writes go straight to w, which then fails on its own.
// Write must not be called concurrently, as for w.
type pacedWriter struct {
	w     io.Writer
	probe func() error

	mu      sync.Mutex
	cond    sync.Cond
	written int64 // bytes written to w
	read    int64 // bytes the server is known to have read
	probing bool  // a probe is outstanding
	waiting bool  // Write waits for an answer
	off     bool  // a probe failed: no more pacing
}

func newPacedWriter(w io.Writer, probe func() error) *pacedWriter {
	p := &pacedWriter{w: w, probe: probe}
	p.cond.L = &p.mu
	return p
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		m := min(len(b), pacingChunk)
		p.mu.Lock()
		for !p.off && p.written-p.read+int64(m) > pacingLimit {
			p.waiting = true
			p.startProbe()
			p.cond.Wait()
		}
		p.waiting = false
		p.mu.Unlock()
		k, err := p.w.Write(b[:m])
		n += k
		b = b[k:]
		p.mu.Lock()
		p.written += int64(k)
		if p.written-p.read >= pacingChunk {
			p.startProbe()
		}
		p.mu.Unlock()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// startProbe starts probing unless a probe is outstanding or the server
// has read everything. p.mu is held.
func (p *pacedWriter) startProbe() {
	if p.off || p.probing || p.written == p.read {
		return
	}
	p.probing = true
	go p.probeLoop(p.written)
}

// probeLoop sends probes, one at a time, while a chunk's worth or more has
// been written since the last answer or the writer waits: an answer to a
// probe sent when at bytes had been written says the server has read them.
func (p *pacedWriter) probeLoop(at int64) {
	for {
		err := p.probe()
		p.mu.Lock()
		if err != nil {
			p.off = true
		} else {
			p.read = max(p.read, at)
		}
		p.cond.Broadcast()
		if p.off || p.written == p.read || (p.written-p.read < pacingChunk && !p.waiting) {
			p.probing = false
			p.mu.Unlock()
			return
		}
		at = p.written
		p.mu.Unlock()
	}
}
