package tunnel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// An upload whose bytes cannot all be read is refused before anything is
// sent (the target would wait for the missing bytes), as a *sourceError:
// a cached copy truncated in place, and a binary rebuilt since it was
// hashed (one only touched goes, its bytes being the same).
func TestUploadRefusedBeforeSendingWhenItsFileChanged(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	other := "arm64" // a platform other than this one's: its binary is the file below
	if runtime.GOARCH == other {
		other = "amd64"
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "chopplan-linux-"+other)
	if err := os.WriteFile(path, bytes.Repeat([]byte("an agent "), 1<<16), 0o755); err != nil {
		t.Fatal(err)
	}
	binary := func() *AgentBinary {
		b, err := (&AgentBinaries{Dir: dir}).For("linux", other) // a new process, as it were
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	refused := func(what string, b *AgentBinary, enc string) {
		t.Helper()
		var sent bytes.Buffer
		err := upload(&sent, b, enc)
		var src *sourceError
		if !errors.As(err, &src) || sent.Len() != 0 {
			t.Fatalf("%s: upload = %v with %d bytes sent; want a source error and nothing sent", what, err, sent.Len())
		}
	}
	if _, err := binary().Upload("zst"); err != nil { // made and cached
		t.Fatal(err)
	}
	b := binary()
	up, err := b.Upload("zst") // the cached copy, open
	if err != nil || up.file == nil {
		t.Fatalf("upload from the cache: %+v, %v", up, err)
	}
	if err := os.Truncate(up.file.Name(), up.Size/2); err != nil {
		t.Fatal(err)
	}
	refused("cached copy truncated", b, "zst")

	// Touched only: the same bytes go.
	b = binary()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	if err := upload(&sent, b, "raw"); err != nil || int64(sent.Len()) <= b.Size {
		t.Fatalf("upload of a binary only touched since it was hashed: %v, %d bytes sent", err, sent.Len())
	}
	// Rebuilt to the same size: refused.
	if err := os.WriteFile(path, bytes.Repeat([]byte("a rebuilt"), 1<<16), 0o755); err != nil {
		t.Fatal(err)
	}
	refused("binary rebuilt since it was hashed", b, "raw")
}
