package tunnel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An upload whose bytes cannot all be read is refused before anything is
// sent (the target would wait for the missing bytes), as a *sourceError:
// a cached copy truncated in place, and a binary rebuilt since it was
// hashed.
func TestUploadRefusedBeforeSendingWhenItsFileChanged(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "chopplan-linux-arm64")
	if err := os.WriteFile(path, bytes.Repeat([]byte("an agent "), 1<<16), 0o755); err != nil {
		t.Fatal(err)
	}
	binary := func() *AgentBinary {
		b, err := (&AgentBinaries{Dir: dir}).For("linux", "arm64") // a new process, as it were
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

	b = binary()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil { // rebuilt, as it were
		t.Fatal(err)
	}
	refused("binary changed since it was hashed", b, "raw")
}
