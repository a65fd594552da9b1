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

func newConn(host string, rw io.ReadWriteCloser) *conn {
	return &conn{
		host: host,
		rw:   rw,
		r:    bufio.NewReaderSize(rw, 64<<10),
		w:    bufio.NewWriterSize(rw, 64<<10),
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
	all := append(append(make([]byte, 0, len(head)+len(body)), head...), body...)
	for len(all) > MaxFramePayload {
		if err := c.send(framePart, id, all[:MaxFramePayload]); err != nil {
			return err
		}
		all = all[MaxFramePayload:]
	}
	return c.send(t, id, all)
}

func (c *conn) close() {
	c.closeOnce.Do(func() { c.rw.Close() })
}

// bodies gathers multi-frame bodies by call id, bounded in total size.
type bodies struct {
	parts map[uint32][]byte
	limit int
}

// add appends a framePart payload; it fails when the body grows past limit.
func (b *bodies) add(id uint32, p []byte) bool {
	if b.parts == nil {
		b.parts = map[uint32][]byte{}
	}
	cur := b.parts[id]
	if len(cur)+len(p) > b.limit {
		delete(b.parts, id)
		return false
	}
	b.parts[id] = append(cur, p...)
	return true
}

// finish returns the whole body given its final frame's payload.
func (b *bodies) finish(id uint32, last []byte) ([]byte, bool) {
	cur, ok := b.parts[id]
	if !ok {
		return last, true
	}
	delete(b.parts, id)
	if len(cur)+len(last) > b.limit {
		return nil, false
	}
	return append(cur, last...), true
}
