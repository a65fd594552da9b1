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
	pipe.unread = 0 // all read
	if err := c.send(frameWindow, 1, []byte{0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if len(c.lent) != 0 {
		t.Fatal("a chunk the reader took is still held")
	}
}
