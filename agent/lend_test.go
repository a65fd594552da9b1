package agent

import (
	"testing"

	"github.com/chopplan/chopplan/internal/chunk"
)

// fakePipe is a stream whose write side lends like a pipe: it records
// what was lent, and says as much unread as the test sets.
type fakePipe struct {
	written, lends, unread int
}

func (p *fakePipe) Read([]byte) (int, error)    { select {} }
func (p *fakePipe) Write(b []byte) (int, error) { p.written += len(b); return len(b), nil }
func (p *fakePipe) Close() error                { return nil }
func (p *fakePipe) CanLend() bool               { return true }
func (p *fakePipe) Lend(b []byte) error         { p.lends++; p.written += len(b); return nil }
func (p *fakePipe) Unread() (int, error)        { return p.unread, nil }

// Large payloads are lent and held until the pipe says they were read;
// small ones are copied, so a pipe full of small frames holds no chunks.
func TestOnlyLargePayloadsAreLentAndHeldUntilRead(t *testing.T) {
	pipe := &fakePipe{}
	c := newConn("t", pipe)
	s := newSendStream(c, 1)
	small := chunk.Get(100)
	if err := s.WriteChunk(small); err != nil {
		t.Fatal(err)
	}
	small.Release()
	if pipe.lends != 0 || len(c.lent) != 0 {
		t.Fatalf("a 100-byte payload was lent (%d lends, %d held)", pipe.lends, len(c.lent))
	}
	big := chunk.Get(chunk.Size)
	pipe.unread = 1 << 30 // nothing read yet
	if err := s.WriteChunk(big); err != nil {
		t.Fatal(err)
	}
	big.Release()
	if pipe.lends != 1 || len(c.lent) != 1 || c.written != int64(pipe.written) {
		t.Fatalf("%d lends, %d held, %d bytes counted of %d", pipe.lends, len(c.lent), c.written, pipe.written)
	}
	// A window frame follows; the reader has taken all but the payload's
	// last byte: still held.
	if err := c.send(frameWindow, 1, []byte{0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	window := frameHeaderLen + 4
	pipe.unread = window + 1
	c.reclaim()
	if len(c.lent) != 1 {
		t.Fatal("a chunk was released with a byte of its payload unread")
	}
	pipe.unread = window // the payload taken, the frame after it not
	c.reclaim()
	if len(c.lent) != 0 {
		t.Fatal("a chunk the reader took is still held")
	}
}

// A reader that takes nothing holds at most maxLent chunks: past that,
// payloads are copied.
func TestLentChunksAreBounded(t *testing.T) {
	pipe := &fakePipe{unread: 1 << 30}
	c := newConn("t", pipe)
	s := newSendStream(c, 1)
	s.window = 1 << 30
	for i := 0; i < 3*maxLent; i++ {
		ch := chunk.Get(chunk.Size)
		if err := s.WriteChunk(ch); err != nil {
			t.Fatal(err)
		}
		ch.Release()
	}
	if pipe.lends != maxLent || len(c.lent) != maxLent {
		t.Fatalf("%d lends, %d chunks held; want %d each", pipe.lends, len(c.lent), maxLent)
	}
}

// Closing a connection gives up the pages of what is still lent, for the
// pipe's reader may outlive the close; the stream then takes no more.
func TestCloseGivesUpTheLentPages(t *testing.T) {
	pipe := &fakePipe{unread: 1 << 30}
	c := newConn("t", pipe)
	s := newSendStream(c, 1)
	big := chunk.Get(chunk.Size)
	b := big.B
	for i := range b {
		b[i] = 'x'
	}
	if err := s.WriteChunk(big); err != nil {
		t.Fatal(err)
	}
	big.Release()
	if len(c.lent) != 1 || b[0] != 'x' {
		t.Fatalf("%d chunks held after a lend", len(c.lent))
	}
	c.close()
	if len(c.lent) != 0 {
		t.Fatal("chunks still held after close")
	}
	if b[0] != 0 || b[len(b)-1] != 0 {
		t.Fatal("close let the lent chunk go with its pages: they read as before")
	}
	if err := c.send(frameWindow, 1, []byte{0, 0, 0, 1}); err != errConnClosed {
		t.Fatalf("a send after close: %v", err)
	}
}

// A peer sending tiny frames gets no more memory than a limit's worth:
// a stream holds at most maxBufferedChunks frames, and a body counts each
// part's overhead besides its bytes.
func TestTinyFramesAreBounded(t *testing.T) {
	s := newRecvStream(newConn("t", &fakePipe{}), 1)
	n := 0
	for ; n < 2*maxBufferedChunks; n++ {
		if !s.push(chunk.Get(1)) {
			break
		}
	}
	if n != maxBufferedChunks {
		t.Fatalf("%d one-byte frames held, want %d", n, maxBufferedChunks)
	}
	s.dropChunks()
	b := &bodies{limit: 1 << 20}
	parts := 0
	for ; parts < 1<<20; parts++ {
		if !b.add(1, chunk.Get(1)) {
			break
		}
	}
	if want := (1 << 20) / (1 + partOverhead); parts > want {
		t.Fatalf("%d one-byte parts held under a 1 MiB limit, want at most %d", parts, want)
	}
}
