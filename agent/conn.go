package agent

import (
	"bufio"
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
	frames []*chunk.Chunk
	size   int
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
	if cur.size+len(c.B) > b.limit || b.total+len(c.B) > b.limit {
		b.total -= cur.size
		delete(b.parts, id)
		cur.release()
		c.Release()
		return false
	}
	cur.frames = append(cur.frames, c)
	cur.size += len(c.B)
	b.total += len(c.B)
	return true
}

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
	out := bigbuf.Make(0, cur.size+len(last))
	for _, f := range cur.frames {
		out = append(out, f.B...)
	}
	return append(out, last...), true
}
