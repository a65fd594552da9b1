package tunnel

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Widen grows real pipes to pipeSize and gives them back to their own
// size; what is not a pipe is left alone.
func TestStdioWidenGrowsAndGivesBackPipes(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "not-a-pipe"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s := &stdioStream{in: inR, out: file}
	s.inSize, s.outSize = pipeSizeOf(inR), pipeSizeOf(file)
	if s.inSize == 0 || s.inSize >= pipeSize || s.outSize != 0 {
		t.Fatalf("sizes: pipe %d, file %d", s.inSize, s.outSize)
	}
	s.Widen(true)
	if got := pipeSizeOf(inR); got != pipeSize {
		t.Fatalf("widened pipe holds %d, want %d", got, pipeSize)
	}
	if !s.Widen(false) {
		t.Fatal("an empty pipe was not given back")
	}
	if got := pipeSizeOf(inR); got != s.inSize {
		t.Fatalf("narrowed pipe holds %d, want its own %d", got, s.inSize)
	}
}

// A pipe still holding more than its own size is not shrunk (the kernel
// refuses; nothing is lost): Widen says so, and succeeds once it drains.
func TestStdioWidenWaitsForData(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s := &stdioStream{in: r, out: w, inSize: pipeSizeOf(r), outSize: pipeSizeOf(w)}
	s.Widen(true)
	data := make([]byte, 300<<10)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if s.Widen(false) {
		t.Fatal("a pipe holding 300 KiB was reported given back")
	}
	if got := pipeSizeOf(r); got != pipeSize {
		t.Fatalf("the pipe holds %d after a refused shrink, want %d", got, pipeSize)
	}
	if _, err := io.ReadFull(r, data); err != nil {
		t.Fatal(err)
	}
	if !s.Widen(false) || pipeSizeOf(r) != s.inSize {
		t.Fatal("a drained pipe was not given back")
	}
}
