// Package chunk is the pool of buffers file streams move in. A chunk may
// be held by more than one consumer at a time (the writer of a file and
// the hasher verifying it), so it is reference counted and goes back to
// the pool when the last one releases it. Reusing buffers matters: with a
// fresh buffer per chunk, a 1 GiB transfer made the kernel fault in and
// zero 700,000 pages and the collector run constantly, which halved the
// throughput.
package chunk

import (
	"io"
	"sync"
	"sync/atomic"
)

// Size is the largest chunk the pool holds, and what file streams read at a time.
const Size = 1 << 20

// Chunk is a buffer from the pool.
type Chunk struct {
	B      []byte
	refs   atomic.Int32
	pooled bool
	lent   atomic.Bool // ReleaseLent: a pipe may hold its pages
}

// stranded keeps the chunks lent to a pipe whose pages could not be
// given up (dropPages): reused, they would change what the pipe holds.
var stranded struct {
	sync.Mutex
	chunks []*Chunk
}

// The pool's chunks are whole pages (pageAligned), so that a lent one can
// give its pages up (ReleaseLent).
var pool = sync.Pool{New: func() any { return &Chunk{B: pageAligned(Size), pooled: true} }}

// minPooled is the smallest chunk taken from the pool: a pooled 1 MiB
// buffer held for a few bytes would let a peer sending tiny frames pin a
// megabyte with each.
const minPooled = 64 << 10

// Get returns a chunk of n bytes with one reference, the caller's. Sizes
// over Size, and under minPooled, are allocated, not pooled.
func Get(n int) *Chunk {
	var c *Chunk
	if n >= minPooled && n <= Size {
		c = pool.Get().(*Chunk)
		c.B = c.B[:n]
	} else {
		c = &Chunk{B: make([]byte, n)}
	}
	c.refs.Store(1)
	return c
}

// Hold adds a reference, for a consumer that keeps the chunk after the
// call that handed it over returns.
func (c *Chunk) Hold() { c.refs.Add(1) }

// Release drops a reference; the last one returns the chunk to the pool.
func (c *Chunk) Release() {
	n := c.refs.Add(-1)
	if n < 0 {
		panic("chunk: released more often than held")
	}
	if n > 0 {
		return
	}
	c.B = c.B[:cap(c.B)]
	if c.lent.Swap(false) && !dropPages(c.B) {
		stranded.Lock()
		stranded.chunks = append(stranded.chunks, c)
		stranded.Unlock()
		return
	}
	if c.pooled {
		pool.Put(c)
	}
}

// ReleaseLent is Release for a holder that put c's pages in a pipe
// (vmsplice(2)) and cannot wait for the pipe's reader to take them: a
// connection closed while its reader, a process the controller cannot
// kill, may read on. When the last reference goes, c's pages are given
// up (madvise(MADV_DONTNEED)) before the chunk is reused or collected:
// the pipe keeps them as they were, and c reads as zeros. A chunk whose
// pages are not wholly its own (not page-aligned) is never reused.
func (c *Chunk) ReleaseLent() {
	c.lent.Store(true)
	c.Release()
}

// Writer is a consumer that takes chunks rather than bytes, so it can
// keep one (Hold) without a copy. A stream hands chunks to a Writer when
// its destination is one.
type Writer interface {
	WriteChunk(c *Chunk) error
}

// Write gives c to w: the chunk itself when w is a Writer (a stream that
// may keep it, or send its pages), else its bytes. It returns how many
// bytes went, as io.Writer does.
func Write(w io.Writer, c *Chunk) (int, error) {
	cw, ok := w.(Writer)
	if !ok {
		return w.Write(c.B)
	}
	if err := cw.WriteChunk(c); err != nil {
		return 0, err
	}
	return len(c.B), nil
}

// WriteBytes gives p to w as a chunk of its own: the io.Writer side of a
// Writer, for streams that hand over bytes.
func WriteBytes(w Writer, p []byte) (int, error) {
	c := Get(len(p))
	copy(c.B, p)
	err := w.WriteChunk(c)
	c.Release()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
