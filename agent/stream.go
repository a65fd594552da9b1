package agent

import (
	"errors"
	"io"
	"sync"

	"github.com/chopplan/chopplan/internal/chunk"
)

// Flow control for a call's data stream, the same in both directions: the
// receiver grants the sender initialWindow bytes when the call starts and
// more as it consumes them, so a receiver never buffers more than
// initialWindow bytes of one stream, however slow its consumer.
const initialWindow = 16 << 20

// maxBufferedChunks bounds the frames a stream holds unread: the window
// counts bytes, and a sender of 1-byte frames would otherwise have the
// receiver hold 16 million of them (a few GB). A put's or fetch's frames
// are up to 1 MiB; a via relay's are as small as the far agent's writes,
// one per result or line when they are few, so the bound is generous: a
// relay would need a million unread (a controller whose output has been
// stalled for many minutes), and they hold some 100 MB besides their bytes.
const maxBufferedChunks = 1 << 20

// errStreamClosed reports a write to a stream whose call has ended.
var errStreamClosed = errors.New("data stream closed")

// recvStream buffers the incoming data of one call.
type recvStream struct {
	c  *conn
	id uint32

	mu       sync.Mutex
	cond     sync.Cond
	chunks   []*chunk.Chunk
	off      int // read offset into chunks[0]
	buffered int // bytes in chunks, never more than the window granted
	eof      bool
	err      error // an abort from the sender, or a local failure
	consumed int   // bytes read since the last window update
}

func newRecvStream(c *conn, id uint32) *recvStream {
	s := &recvStream{c: c, id: id}
	s.cond.L = &s.mu
	return s
}

// push adds a chunk that arrived, taking its reference; false means the
// sender overran its window.
func (s *recvStream) push(c *chunk.Chunk) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eof || s.err != nil {
		c.Release() // late data after an abort: drop it
		return true
	}
	if s.buffered+len(c.B) > initialWindow || len(s.chunks) >= maxBufferedChunks {
		c.Release()
		return false
	}
	s.chunks = append(s.chunks, c)
	s.buffered += len(c.B)
	s.cond.Signal()
	return true
}

// smallFrame is the size under which a part frame's keeping is counted
// besides its bytes (bodies.add).
const smallFrame = 4 << 10

// dropChunks releases what is buffered once nobody will read it.
func (s *recvStream) dropChunks() {
	for _, c := range s.chunks {
		c.Release()
	}
	s.chunks, s.off, s.buffered = nil, 0, 0
}

// end marks the end of the stream: clean when err is nil.
func (s *recvStream) end(err error) {
	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = err
		s.dropChunks()
	}
	s.eof = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// next waits, with s.mu held, until a chunk is buffered or the stream has
// ended; it returns the stream's error or io.EOF once nothing is left.
func (s *recvStream) next() error {
	for len(s.chunks) == 0 && !s.eof && s.err == nil {
		s.cond.Wait()
	}
	if s.err != nil {
		return s.err
	}
	if len(s.chunks) == 0 {
		return io.EOF
	}
	return nil
}

func (s *recvStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if err := s.next(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	n := copy(p, s.chunks[0].B[s.off:])
	s.off += n
	if s.off == len(s.chunks[0].B) {
		s.chunks[0].Release()
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		s.off = 0
	}
	grant := s.take(n)
	s.mu.Unlock()
	s.grant(grant)
	return n, nil
}

// WriteTo hands whole chunks to w, saving a copy on the hot path of put
// and fetch; a chunk.Writer gets the chunks themselves and may keep them.
func (s *recvStream) WriteTo(w io.Writer) (int64, error) {
	cw, _ := w.(chunk.Writer)
	var total int64
	for {
		s.mu.Lock()
		if err := s.next(); err != nil {
			s.mu.Unlock()
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		c, off := s.chunks[0], s.off
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		s.off = 0
		grant := s.take(len(c.B) - off)
		s.mu.Unlock()
		var (
			n   int
			err error
		)
		if cw != nil && off == 0 {
			n = len(c.B)
			err = cw.WriteChunk(c)
		} else {
			n, err = w.Write(c.B[off:])
		}
		c.Release()
		total += int64(n)
		s.grant(grant)
		if err != nil {
			s.end(err)
			return total, &outputError{err}
		}
	}
}

// outputError is a failure of the writer a stream was handed to (a full
// disk), not of the stream: it is the call's error, whatever the agent
// says of the call it then cancels.
type outputError struct{ err error }

func (e *outputError) Error() string { return e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// take records n bytes consumed and returns the credit to grant back now:
// in quarter-window steps, so updates stay rare.
func (s *recvStream) take(n int) int {
	s.buffered -= n
	s.consumed += n
	if s.consumed < initialWindow/4 {
		return 0
	}
	g := s.consumed
	s.consumed = 0
	return g
}

func (s *recvStream) grant(n int) {
	if n > 0 {
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		s.c.send(frameWindow, s.id, b[:])
	}
}

// sendStream writes the outgoing data of one call within the window the
// receiver granted.
type sendStream struct {
	c  *conn
	id uint32

	mu     sync.Mutex
	cond   sync.Cond
	window int
	err    error // set when the stream may no longer be written
	ended  bool
}

func newSendStream(c *conn, id uint32) *sendStream {
	s := &sendStream{c: c, id: id, window: initialWindow}
	s.cond.L = &s.mu
	return s
}

// reserve waits until the receiver has granted room, then takes up to n
// bytes of it.
func (s *sendStream) reserve(n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.window == 0 && s.err == nil {
		s.cond.Wait()
	}
	if s.err != nil {
		return 0, s.err
	}
	n = min(n, s.window)
	s.window -= n
	return n, nil
}

// WriteChunk sends c's bytes, as Write does; where the connection lends
// pages to its pipe, the chunk's own pages go (chunk.Writer).
func (s *sendStream) WriteChunk(c *chunk.Chunk) error {
	if s.c.lender == nil || len(c.B) < minLend {
		_, err := s.Write(c.B)
		return err
	}
	for p := c.B; len(p) > 0; {
		n, err := s.reserve(min(len(p), dataChunk))
		if err != nil {
			return err
		}
		if n < minLend { // the window's last few bytes: copied
			err = s.c.send(frameData, s.id, p[:n])
		} else {
			err = s.c.sendLent(s.id, c, p[:n])
		}
		if err != nil {
			s.abort(err)
			return err
		}
		p = p[n:]
	}
	return nil
}

func (s *sendStream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := s.reserve(min(len(p), dataChunk))
		if err != nil {
			return written, err
		}
		if err := s.c.send(frameData, s.id, p[:n]); err != nil {
			s.abort(err)
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// ReadFrom sends r's content in full chunks: one read, one frame.
func (s *sendStream) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, dataChunk)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w, werr := s.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// addWindow adds the receiver's credit, capped so that no run of window
// frames can make it wrap.
func (s *sendStream) addWindow(n int) {
	s.mu.Lock()
	s.window = min(s.window+n, 1<<30)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// maxAbortMessage bounds the reason sent with an aborted stream.
const maxAbortMessage = 4 << 10

// close ends the stream for the receiver: cleanly when err is nil, else
// as an abort carrying err's message.
func (s *sendStream) close(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.err == nil {
		s.err = errStreamClosed
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	var msg []byte
	if err != nil {
		msg = []byte(err.Error())
		if len(msg) == 0 {
			msg = []byte("aborted")
		}
		// One frame carries it: a message past the frame limit would end
		// the peer's whole connection instead of this stream.
		msg = msg[:min(len(msg), maxAbortMessage)]
	}
	s.c.send(frameDataEnd, s.id, msg)
}

// abort stops writers without telling the receiver (the call is gone).
func (s *sendStream) abort(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}
