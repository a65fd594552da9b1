// Package hashpipe hashes a stream with sha256 on a goroutine of its own,
// so that verifying content end to end overlaps with reading and writing
// it instead of adding to it. File streams hash at about the speed of the
// pipe that carries them; done in line, hashing halved their throughput.
package hashpipe

import (
	"crypto/sha256"
	"hash"
	"io"

	"github.com/chopplan/chopplan/internal/chunk"
)

// depth bounds the chunks waiting to be hashed (and so the memory held).
const depth = 16

type piece struct {
	c *chunk.Chunk
	p []byte
}

// Hasher hashes the chunks written to it in the background.
type Hasher struct {
	ch   chan piece
	done chan struct{}
	h    hash.Hash
}

// New starts a Hasher.
func New() *Hasher {
	h := &Hasher{ch: make(chan piece, depth), done: make(chan struct{}), h: sha256.New()}
	go func() {
		for pc := range h.ch {
			h.h.Write(pc.p)
			pc.c.Release()
		}
		close(h.done)
	}()
	return h
}

// Write queues p, which lies in c's buffer, for hashing; the Hasher holds
// c until it is done with it.
func (h *Hasher) Write(c *chunk.Chunk, p []byte) {
	if len(p) == 0 {
		return
	}
	c.Hold()
	h.ch <- piece{c, p}
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

// Chunks reads r to its end in pooled chunks and passes each to fn, which
// may Hold it; the chunk is released when fn returns.
func Chunks(r io.Reader, fn func(*chunk.Chunk) error) error {
	for {
		c := chunk.Get(chunk.Size)
		n, err := io.ReadFull(r, c.B)
		c.B = c.B[:n]
		if n > 0 {
			if ferr := fn(c); ferr != nil {
				c.Release()
				return ferr
			}
		}
		c.Release()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
