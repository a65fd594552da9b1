// Package hashpipe hashes a stream with sha256 on a goroutine of its own,
// so that verifying content end to end overlaps with reading and writing
// it instead of adding to it. File streams hash at about the speed of the
// pipe that carries them; done in line, hashing halved their throughput.
package hashpipe

import (
	"crypto/sha256"
	"hash"
	"io"
)

// ChunkSize is the size of the chunks Chunks reads.
const ChunkSize = 256 << 10

// depth bounds the chunks waiting to be hashed (and so the memory held).
const depth = 16

// Hasher hashes the chunks written to it in the background. A chunk
// handed to Write is read after Write returns: the caller must not change
// it again. Chunks read by Chunks, and a recvStream's chunks, are fresh
// and never reused, which is what makes this safe.
type Hasher struct {
	ch   chan []byte
	done chan struct{}
	h    hash.Hash
}

// New starts a Hasher.
func New() *Hasher {
	h := &Hasher{ch: make(chan []byte, depth), done: make(chan struct{}), h: sha256.New()}
	go func() {
		for p := range h.ch {
			h.h.Write(p)
		}
		close(h.done)
	}()
	return h
}

// Write queues p for hashing.
func (h *Hasher) Write(p []byte) (int, error) {
	if len(p) > 0 {
		h.ch <- p
	}
	return len(p), nil
}

// Sum waits for every queued chunk and returns the sha256. Call it once.
func (h *Hasher) Sum() []byte {
	close(h.ch)
	<-h.done
	return h.h.Sum(nil)
}

// Abandon stops the Hasher without a sum (on an error path).
func (h *Hasher) Abandon() {
	close(h.ch)
	<-h.done
}

// Chunks reads r to its end in fresh ChunkSize buffers and passes each
// to fn: fn may keep the chunk (hand it to a Hasher).
func Chunks(r io.Reader, fn func([]byte) error) error {
	for {
		buf := make([]byte, ChunkSize)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
