package chunk

import (
	"bytes"
	"testing"
)

func TestHoldRelease(t *testing.T) {
	c := Get(10)
	if len(c.B) != 10 {
		t.Fatalf("len %d", len(c.B))
	}
	c.Hold()
	c.Release()
	c.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("a third release did not panic")
		}
	}()
	c.Release()
}

func TestLargeChunksAreNotPooled(t *testing.T) {
	c := Get(Size + 1)
	if len(c.B) != Size+1 || c.pooled {
		t.Fatalf("chunk of %d, pooled %v", len(c.B), c.pooled)
	}
	c.Release()
}

// takes is a Writer that records the chunks it is given.
type takes struct{ got []*Chunk }

func (w *takes) WriteChunk(c *Chunk) error { w.got = append(w.got, c); return nil }
func (w *takes) Write(p []byte) (int, error) {
	panic("a chunk.Writer was given bytes")
}

// Write hands a Writer the chunk itself, and any other writer its bytes.
func TestWriteGivesAWriterTheChunk(t *testing.T) {
	c := Get(5)
	defer c.Release()
	copy(c.B, "bytes")
	w := &takes{}
	if n, err := Write(w, c); err != nil || n != 5 || len(w.got) != 1 || w.got[0] != c {
		t.Fatalf("Write to a chunk.Writer: %d, %v, got %v", n, err, w.got)
	}
	var buf bytes.Buffer
	if n, err := Write(&buf, c); err != nil || n != 5 || buf.String() != "bytes" {
		t.Fatalf("Write to a bytes.Buffer: %d, %v, %q", n, err, buf.String())
	}
}

// A small chunk is its own size, not a pooled 1 MiB buffer held for a few
// bytes (a peer's tiny frames would pin a megabyte each).
func TestSmallChunksAreTheirOwnSize(t *testing.T) {
	c := Get(10)
	if cap(c.B) != 10 || c.pooled {
		t.Fatalf("a 10-byte chunk: cap %d, pooled %v", cap(c.B), c.pooled)
	}
	c.Release()
	if big := Get(minPooled); !big.pooled || cap(big.B) != Size {
		t.Fatalf("a %d-byte chunk: cap %d, pooled %v", minPooled, cap(big.B), big.pooled)
	}
}
