package agent

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
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

	closeOnce sync.Once
}

// connBufferSize is the size of each connection's read and write buffers.
// Frames larger than it (file chunks, large values) bypass the buffers, so
// a small size costs nothing there, and a controller keeps one connection
// per host: 1,000 hosts hold 32 MiB of buffers rather than 128.
const connBufferSize = 16 << 10

func newConn(host string, rw io.ReadWriteCloser) *conn {
	return &conn{
		host: host,
		rw:   rw,
		r:    bufio.NewReaderSize(rw, connBufferSize),
		w:    bufio.NewWriterSize(rw, connBufferSize),
	}
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
	return c.werr
}

// sendBody sends a call or result body that may be larger than one frame:
// every full frame but the last goes as framePart, the rest as t.
func (c *conn) sendBody(t frameType, id uint32, head, body []byte) error {
	if len(head)+len(body) <= MaxFramePayload {
		return c.send(t, id, head, body)
	}
	// The head rides in the first frame; the body is sent from where it
	// lies, never copied into one buffer with the head.
	first := MaxFramePayload - len(head)
	if err := c.send(framePart, id, head, body[:first]); err != nil {
		return err
	}
	body = body[first:]
	for len(body) > MaxFramePayload {
		if err := c.send(framePart, id, body[:MaxFramePayload]); err != nil {
			return err
		}
		body = body[MaxFramePayload:]
	}
	return c.send(t, id, body)
}

func (c *conn) close() {
	c.closeOnce.Do(func() { c.rw.Close() })
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
	frames [][]byte
	size   int
}

// add keeps a framePart payload; it fails when the body grows past limit.
func (b *bodies) add(id uint32, p []byte) bool {
	if b.parts == nil {
		b.parts = map[uint32]*partial{}
	}
	cur := b.parts[id]
	if cur == nil {
		cur = &partial{}
		b.parts[id] = cur
	}
	if cur.size+len(p) > b.limit || b.total+len(p) > b.limit {
		b.total -= cur.size
		delete(b.parts, id)
		return false
	}
	cur.frames = append(cur.frames, p)
	cur.size += len(p)
	b.total += len(p)
	return true
}

// finish returns the whole body given its final frame's payload.
func (b *bodies) finish(id uint32, last []byte) ([]byte, bool) {
	cur, ok := b.parts[id]
	if !ok {
		return last, true
	}
	delete(b.parts, id)
	b.total -= cur.size
	if cur.size+len(last) > b.limit {
		return nil, false
	}
	out := make([]byte, 0, cur.size+len(last))
	for _, f := range cur.frames {
		out = append(out, f...)
	}
	return append(out, last...), true
}
