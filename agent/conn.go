package agent

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/chopplan/chopplan/internal/bigbuf"
	"github.com/chopplan/chopplan/internal/chunk"
)

// conn is one end of an agent stream. Any goroutine may send frames; writes
// are serialised and coalesced: the last writer in a burst flushes, so
// many calls in flight share system calls while a lone call pays one.
type conn struct {
	host string
	rw   io.ReadWriteCloser
	r    *bufio.Reader

	wmu     sync.Mutex
	w       *bufio.Writer
	waiting atomic.Int32
	werr    error

	// With a lender, a large data frame's payload goes into the pipe as
	// the pages of its chunk, not as a copy (sendLent). A chunk so lent
	// is held until the reader has taken its bytes, which the pipe's
	// unread count tells against written. A pipe holds at most so many
	// pages however few bytes each carries, and only payloads of
	// minLend bytes or more are lent, so a few chunks are held at a time.
	// Both under wmu.
	lender  PipeLender
	written int64       // bytes handed to the stream
	lent    []lentChunk // chunks whose pages may still be in the pipe, oldest first

	closeOnce sync.Once
}

// A PipeLender is a stream whose write side is a pipe that can take a
// buffer's pages rather than a copy of them (vmsplice(2)). A fetch then
// costs the agent no copy into the pipe: that copy was a quarter of its
// CPU in a local fetch. The pipe's reader must copy what it reads
// (read(2)), as sshd, docker and a controller do: one that spliced the
// pages on would still hold them after the pipe counts them read.
type PipeLender interface {
	// CanLend reports whether the write side is such a pipe.
	CanLend() bool
	// Lend puts all of p into the pipe, or fails. p must not change until
	// Unread says the reader has taken it.
	Lend(p []byte) error
	// Unread is how many bytes written to the pipe the reader has not
	// taken yet.
	Unread() (int, error)
}

// minLend is the smallest payload lent rather than copied: a 1 MiB
// chunk held for a few bytes in a pipe slot would hold memory for
// nothing (256 small frames in a 1 MiB pipe, 256 MiB).
const minLend = 64 << 10

// maxLent bounds the chunks held at once: a 1 MiB pipe holds at most 16
// lent payloads. Past it the reader is not taking them, or their count
// cannot be read, and payloads are copied instead.
const maxLent = 20

type lentChunk struct {
	c   *chunk.Chunk
	end int64 // the stream's written count once its bytes were in
}

// counter counts what goes to the stream.
type counter struct{ c *conn }

func (w counter) Write(p []byte) (int, error) {
	n, err := w.c.rw.Write(p)
	w.c.written += int64(n)
	return n, err
}

// connBufferSize is the size of each connection's read and write buffers.
// Frames larger than it (file chunks, large values) bypass the buffers, so
// a small size costs nothing there, and a controller keeps one connection
// per host: 1,000 hosts hold 32 MiB of buffers rather than 128.
const connBufferSize = 16 << 10

func newConn(host string, rw io.ReadWriteCloser) *conn {
	c := &conn{host: host, rw: rw, r: bufio.NewReaderSize(rw, connBufferSize)}
	if l, ok := rw.(PipeLender); ok && l.CanLend() {
		c.lender = l
		c.w = bufio.NewWriterSize(counter{c}, connBufferSize)
	} else {
		c.w = bufio.NewWriterSize(rw, connBufferSize)
	}
	return c
}

// send writes one frame whose payload is the concatenation of parts.
func (c *conn) send(t frameType, id uint32, parts ...[]byte) error {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	c.waiting.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	last := c.waiting.Add(-1) == 0
	if c.werr != nil {
		return c.werr
	}
	var hdr [frameHeaderLen]byte
	c.w.Write(appendFrameHeader(hdr[:0], t, id, size))
	for _, p := range parts {
		c.w.Write(p)
	}
	if last {
		c.werr = c.w.Flush()
	}
	if len(c.lent) > 0 {
		c.reclaim()
	}
	return c.werr
}

// sendLent writes a data frame whose payload, p, lies in ch: the pipe
// takes p's pages (PipeLender), and ch is held until the reader has
// taken them.
func (c *conn) sendLent(id uint32, ch *chunk.Chunk, p []byte) error {
	c.waiting.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.waiting.Add(-1)
	if c.werr != nil {
		return c.werr
	}
	var hdr [frameHeaderLen]byte
	c.w.Write(appendFrameHeader(hdr[:0], frameData, id, len(p)))
	if len(c.lent) >= maxLent {
		c.reclaim()
	}
	if len(c.lent) >= maxLent {
		// The reader is not taking what was lent, or its count cannot be
		// read: copy, so that no more is held.
		c.w.Write(p)
		c.werr = c.w.Flush()
		return c.werr
	}
	if c.werr = c.w.Flush(); c.werr != nil {
		return c.werr
	}
	// Held, and kept in lent, before any page goes: should Lend fail
	// part-way, the chunk stays there (the stream is broken, so it is
	// never counted as read) rather than going back to the pool or to
	// the collector with pages in the pipe.
	ch.Hold()
	c.lent = append(c.lent, lentChunk{ch, c.written + int64(len(p))})
	if c.werr = c.lender.Lend(p); c.werr != nil {
		// The frame is cut short and the reader may still be there,
		// waiting for the rest: end the stream. Not here, under wmu, as
		// closing may wait for the peer.
		go c.close()
		return c.werr
	}
	c.written += int64(len(p))
	c.reclaim()
	return nil
}

// reclaim releases the lent chunks whose bytes the reader has taken.
func (c *conn) reclaim() {
	unread, err := c.lender.Unread()
	if err != nil {
		return
	}
	taken := c.written - int64(unread)
	i := 0
	for ; i < len(c.lent) && c.lent[i].end <= taken; i++ {
		c.lent[i].c.Release()
		c.lent[i] = lentChunk{}
	}
	c.lent = c.lent[i:]
}

// sendBody sends a call or result body, head then the body's parts, in
// as many frames as it takes: every frame but the last a framePart, the
// last of type t. The parts are sent from where they lie, never gathered
// into one buffer.
func (c *conn) sendBody(t frameType, id uint32, head []byte, body [][]byte) error {
	frame := make([][]byte, 1, len(body)+1)
	frame[0] = head
	n := len(head)
	for _, p := range body {
		for len(p) > 0 {
			if n == MaxFramePayload {
				if err := c.send(framePart, id, frame...); err != nil {
					return err
				}
				frame, n = frame[:0], 0
			}
			k := min(MaxFramePayload-n, len(p))
			frame = append(frame, p[:k])
			n += k
			p = p[k:]
		}
	}
	return c.send(t, id, frame...)
}

// errConnClosed is what a send on a closed connection returns.
var errConnClosed = errors.New("connection closed")

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.rw.Close()
		if c.lender == nil {
			return
		}
		// What is still lent may yet be read: closing does not end every
		// reader (a root agent under sudo outlives a kill of sudo). The
		// pipe keeps those pages and the chunks are not reused over them.
		// wmu is free once the stream is closed: a pipe's close wakes a
		// write waiting in it.
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if c.werr == nil {
			c.werr = errConnClosed
		}
		for _, l := range c.lent {
			l.c.ReleaseLent()
		}
		c.lent = nil
	})
}

// bodies gathers multi-frame bodies by call id. Each body is bounded by
// limit, and all bodies being gathered together by limit too: a peer that
// spreads parts over many ids gets no more room than one.
// Parts are kept as they came and joined once, into one allocation of
// the final size: growing one slice frame by frame copied a 50 MB result
// about twice over.
type bodies struct {
	parts map[uint32]*partial
	limit int
	total int
}

type partial struct {
	frames []*chunk.Chunk
	size   int // counted against the limit: payloads and partOverhead each
	n      int // payload bytes
}

// add keeps a part frame's pooled payload, c, until the body is finished.
func (b *bodies) add(id uint32, c *chunk.Chunk) bool {
	if c == nil {
		return true // an empty part
	}
	if b.parts == nil {
		b.parts = map[uint32]*partial{}
	}
	cur := b.parts[id]
	if cur == nil {
		cur = &partial{}
		b.parts[id] = cur
	}
	// A small frame costs its payload and what keeping it costs besides,
	// so that a peer sending tiny parts gets no more memory than the
	// limit (a sender's parts are 1 MiB but for the last).
	cost := len(c.B)
	if cost < smallFrame {
		cost += partOverhead
	}
	if cur.size+cost > b.limit || b.total+cost > b.limit {
		b.total -= cur.size
		delete(b.parts, id)
		cur.release()
		c.Release()
		return false
	}
	cur.frames = append(cur.frames, c)
	cur.size += cost
	cur.n += len(c.B)
	b.total += cost
	return true
}

// partOverhead is what holding one part frame costs beyond its payload
// (the chunk, its slice entry, allocation rounding), counted against the
// body limit.
const partOverhead = 128

func (p *partial) release() {
	for _, c := range p.frames {
		c.Release()
	}
}

func (b *bodies) finish(id uint32, last []byte) ([]byte, bool) {
	cur, ok := b.parts[id]
	if !ok {
		return last, true
	}
	delete(b.parts, id)
	b.total -= cur.size
	defer cur.release()
	if cur.size+len(last) > b.limit {
		return nil, false
	}
	out := bigbuf.Make(0, cur.n+len(last))
	for _, f := range cur.frames {
		out = append(out, f.B...)
	}
	return append(out, last...), true
}
