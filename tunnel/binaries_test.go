package tunnel_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

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
