package tunnel

import (
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
	s.Widen(false)
	if got := pipeSizeOf(inR); got != s.inSize {
		t.Fatalf("narrowed pipe holds %d, want its own %d", got, s.inSize)
	}
}
