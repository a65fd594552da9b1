package hashpipe

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

func TestSumMatchesSha256(t *testing.T) {
	data := make([]byte, 3*ChunkSize+17)
	rand.Read(data)
	h := New()
	var chunks int
	if err := Chunks(bytes.NewReader(data), func(p []byte) error {
		chunks++
		_, err := h.Write(p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if got := h.Sum(); !bytes.Equal(got, want[:]) || chunks != 4 {
		t.Fatalf("sum %x (%d chunks), want %x", got, chunks, want)
	}
}
