package hashpipe

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/chopplan/chopplan/internal/chunk"
)

func TestSumMatchesSha256(t *testing.T) {
	data := make([]byte, 3*chunk.Size+17)
	rand.Read(data)
	h := New()
	var chunks int
	var copied []byte
	if err := Chunks(bytes.NewReader(data), func(c *chunk.Chunk) error {
		chunks++
		h.Write(c, c.B)
		copied = append(copied, c.B...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if got := h.Sum(); !bytes.Equal(got, want[:]) || chunks != 4 || !bytes.Equal(copied, data) {
		t.Fatalf("sum %x (%d chunks), want %x", got, chunks, want)
	}
}
