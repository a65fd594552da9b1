package tunnel_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/chopplan/chopplan/tunnel"
)

func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The sha256 of an agent binary is cached across runs, and any change to
// the file is seen.
func TestAgentBinarySumCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "chopplan-linux-arm64")
	if err := os.WriteFile(path, []byte("first agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := (&tunnel.AgentBinaries{Dir: dir}).For("linux", "arm64")
	if err != nil || b.SHA256 != fileSum(t, path) {
		t.Fatalf("first sum %+v, %v", b, err)
	}
	cached, err := (&tunnel.AgentBinaries{Dir: dir}).For("linux", "arm64")
	if err != nil || cached.SHA256 != b.SHA256 {
		t.Fatalf("cached sum %+v, %v", cached, err)
	}
	if err := os.WriteFile(path, []byte("second agent, longer"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed, err := (&tunnel.AgentBinaries{Dir: dir}).For("linux", "arm64")
	if err != nil || changed.SHA256 != fileSum(t, path) || changed.SHA256 == b.SHA256 {
		t.Fatalf("sum after a change %+v, %v", changed, err)
	}
	if _, err := (&tunnel.AgentBinaries{Dir: dir}).For("plan9", "mips"); err == nil {
		t.Fatal("a missing platform was found")
	}
}

// What is uploaded unpacks to the binary its name promises: a cached
// compressed copy whose recorded sha256 no longer matches is made again,
// and a binary that changed since it was hashed is refused.
func TestAgentUploadIsTheBinaryItNames(t *testing.T) {
	cacheDir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheDir)
	dir := t.TempDir()
	path := filepath.Join(dir, "chopplan-linux-arm64")
	content := []byte("an agent, compressed and checked")
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	unpack := func(data []byte) []byte {
		zr, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		out, err := zr.DecodeAll(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	upload := func() ([]byte, string, error) {
		b, err := (&tunnel.AgentBinaries{Dir: dir}).For("linux", "arm64") // a new process, as it were
		if err != nil {
			t.Fatal(err)
		}
		up, err := b.Upload("zst")
		if err != nil {
			return nil, "", err
		}
		var sent bytes.Buffer
		if n, err := up.WriteTo(&sent); err != nil || n != up.Size {
			t.Fatalf("sending the upload: %d of %d bytes, %v", n, up.Size, err)
		}
		return sent.Bytes(), up.SHA256, nil
	}
	data, sum, err := upload()
	if err != nil || string(unpack(data)) != string(content) || sum != hex.EncodeToString(sha256sum(data)) {
		t.Fatalf("first upload: %q, %s, %v", unpack(data), sum, err)
	}
	cached, _ := filepath.Glob(filepath.Join(cacheDir, "chopplan", "agent-*.zst"))
	if len(cached) != 1 {
		t.Fatalf("cached copies: %v", cached)
	}
	// A later process sends the cached copy as it is.
	if data, sum2, err := upload(); err != nil || string(unpack(data)) != string(content) || sum2 != sum {
		t.Fatalf("upload from the cache: %v", err)
	}
	// Damage the cached copy: the next process makes it again.
	if err := os.WriteFile(cached[0], []byte("not what was recorded"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _, err := upload(); err != nil || string(unpack(data)) != string(content) {
		t.Fatalf("upload after the cache was damaged: %v", err)
	}
	// The binary changes after it was hashed: its upload is refused.
	b, err := (&tunnel.AgentBinaries{Dir: dir}).For("linux", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("rebuilt since"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Upload("gz"); err == nil || !strings.Contains(err.Error(), "changed since it was hashed") {
		t.Fatalf("upload of a binary changed since it was hashed: %v", err)
	}
}

func sha256sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
