package chunk

import (
	"bytes"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// spliceInto puts b's pages into the pipe w, as a stream lending a chunk
// does.
func spliceInto(t *testing.T, w *os.File, b []byte) {
	t.Helper()
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	if n, err := unix.Vmsplice(int(w.Fd()), []unix.Iovec{iov}, 0); err != nil || n != len(b) {
		t.Fatalf("vmsplice: %d of %d, %v", n, len(b), err)
	}
}

// A chunk released as lent gives its pages to the pipe that holds them:
// what reuses the chunk's memory afterwards does not change what the
// pipe's reader reads. The last holder's release does it, not the lender's
// while another holder still reads the chunk.
func TestReleasedLentChunkLeavesThePipeItsPages(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	const n = 32 << 10 // within a pipe's default size
	c := Get(Size)
	if start(c.B)%pageSize != 0 {
		t.Fatal("a pooled chunk does not start on a page")
	}
	want := bytes.Repeat([]byte("lent page "), n/10+1)[:n]
	copy(c.B, want)
	spliceInto(t, w, c.B[:n])

	c.Hold() // another holder, reading the chunk still
	c.ReleaseLent()
	if !bytes.Equal(c.B[:n], want) {
		t.Fatal("the chunk's pages were given up while another holder had it")
	}
	b := c.B
	c.Release()
	if !bytes.Equal(b[:n], make([]byte, n)) {
		t.Fatal("the last release kept the chunk's pages: the chunk does not read as zeros")
	}
	copy(b, bytes.Repeat([]byte("REUSED"), len(b)/6)) // the memory's next user
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("the pipe's reader read what reused the chunk: at %d, %q", i, got[i:i+12])
	}
}

// A chunk whose memory is not whole pages cannot give them up without
// zeroing its neighbours': it is kept, never reused.
func TestLentChunkThatIsNotWholePagesIsNeverReused(t *testing.T) {
	c := Get(Size + 1) // not pooled, and not a whole number of pages
	b := c.B
	copy(b, "neighbour")
	before := len(stranded.chunks)
	c.ReleaseLent()
	if len(stranded.chunks) != before+1 || stranded.chunks[before] != c {
		t.Fatal("a lent chunk that could not give up its pages was let go")
	}
	if string(b[:9]) != "neighbour" {
		t.Fatal("pages shared with other memory were given up")
	}
	if dropPages(make([]byte, 4096)[1:]) {
		t.Fatal("dropPages took an unaligned buffer")
	}
}
