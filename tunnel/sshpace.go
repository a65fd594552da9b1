package tunnel

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Pacing the agent's upload to an SSH server.
//
// OpenSSH's sshd reads a connection as fast as packets arrive, up to the
// channel's window (2 MB), and holds what the session's command has not
// read yet in a buffer that grows only as far as each packet needs, each
// growth copying all it holds into a new allocation. Sending the 5.8 MB
// compressed agent to the bootstrap script's head -c at full speed made
// sshd fault in some 160 MB of fresh pages and took 65-145 ms; sent in
// step with sshd's reading, the same bytes take 25-45 ms on loopback
// (docs/performance.md, "Sixth run"). OpenSSH's own client pays the same
// cost.
//
// A pacedWriter keeps at most a limit of bytes written and not yet known
// to be read by the server. What the server has read is learnt from a
// global request with a reply (keepalive@openssh.com, as OpenSSH's client
// sends): a server handles a connection's messages in order, so its reply
// to a request sent after N bytes says it has read those N bytes (read,
// not passed on: the pacing keeps sshd from reading far ahead in bursts,
// which is what lets its buffer grow while the command keeps up). One
// request is outstanding at a time, sent when pacingChunk bytes or more
// have gone since the last reply, so the writer advances about half the
// limit per round trip. The limit is pacingMin while the shortest round
// trip seen is under pacingNear, and beyond that grows with it so that the
// pace is at least pacingRate, doubling at most with each answer (the
// first round trips wait behind the data sent before them, and overstate
// the link's: on loopback they alone would have raised the limit to
// 256-512 KiB, which made the upload slower): on a distant host the
// network soon paces the upload, and pacing costs it a few round trips at
// the start. A request
// unanswered for pacingGiveUp (a server that ignores global requests)
// ends the pacing, as does a failed one (the connection is gone); writes
// then go straight through.
//
// Only the bootstrap is paced: the agent reads its stdin as fast as sshd
// writes it, and pacing its stream slowed a 100 MiB put from 0.33 to
// 0.42 s. A host with keepalives turned off (ServerAliveInterval 0) is
// not paced either, as it may be one that does not answer them.
const (
	pacingChunk  = 64 << 10
	pacingMin    = 128 << 10
	pacingRate   = 256 << 20 // bytes per second: 256 MiB/s
	pacingGiveUp = time.Second
	pacingNear   = time.Millisecond // round trips this short keep the limit at pacingMin
)

// bootstrapWriter is what the bootstrap writes the session's stdin
// through: paced by probe, unless keepalives are off (keepAlive <= 0).
func bootstrapWriter(stdin io.Writer, keepAlive time.Duration, probe func() error) io.Writer {
	if keepAlive <= 0 {
		return stdin
	}
	return newPacedWriter(stdin, probe)
}

// errProbeTimeout ends pacing when a probe goes unanswered.
var errProbeTimeout = errors.New("no answer to a keepalive")

// pacedWriter paces writes to w by round trips through probe, which must
// send a request after everything written so far and return once the
// server has answered it. Write must not be called concurrently, as for w.
type pacedWriter struct {
	w      io.Writer
	probe  func() error
	rate   float64       // pacingRate; 0 keeps the limit at pacingMin
	near   time.Duration // pacingNear
	giveUp time.Duration // pacingGiveUp

	mu      sync.Mutex
	cond    sync.Cond
	limit   int64         // bytes that may be written past read
	minRTT  time.Duration // the shortest probe round trip so far
	written int64         // bytes written to w
	read    int64         // bytes the server is known to have read
	probing bool          // a probe is outstanding
	waiting bool          // Write waits for an answer
	off     bool          // a probe failed or went unanswered: no more pacing
}

func newPacedWriter(w io.Writer, probe func() error) *pacedWriter {
	p := &pacedWriter{w: w, probe: probe, rate: pacingRate, near: pacingNear, giveUp: pacingGiveUp, limit: pacingMin}
	p.cond.L = &p.mu
	return p
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		m := min(len(b), pacingChunk)
		p.mu.Lock()
		for !p.off && p.written-p.read+int64(m) > p.limit {
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
		start := time.Now()
		err := p.timedProbe()
		rtt := time.Since(start)
		p.mu.Lock()
		if err != nil {
			p.off = true
		} else {
			p.read = max(p.read, at)
			if p.minRTT == 0 || rtt < p.minRTT {
				p.minRTT = rtt
			}
			want := int64(pacingMin)
			if p.minRTT > p.near {
				want = max(want, 2*int64(p.minRTT.Seconds()*p.rate))
			}
			p.limit = min(want, 2*p.limit)
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

// timedProbe is probe, given up on after p.giveUp.
func (p *pacedWriter) timedProbe() error {
	answer := make(chan error, 1)
	go func() { answer <- p.probe() }()
	t := time.NewTimer(p.giveUp)
	defer t.Stop()
	select {
	case err := <-answer:
		return err
	case <-t.C:
		return errProbeTimeout
	}
}
