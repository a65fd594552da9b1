package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// lockDir is fixed rather than os.TempDir(): test packages run with
// different TMPDIRs must still see each other's locks.
const lockDir = "/tmp"

// withMachineLock runs fn while holding an exclusive flock shared by every
// test process on the machine. Users, packages and address allocations are
// machine-wide, and `go test ./...` runs packages concurrently.
func withMachineLock(name string, fn func() error) error {
	path := filepath.Join(lockDir, "chopplan-testenv-"+name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("testenv: open lock %s: %w", path, err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("testenv: lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// randomHex returns n random bytes as hex, for names that must not collide
// with those of concurrently running test packages.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// publicTempDir makes a temporary directory that other users can enter and
// read, removed when the test ends. t.TempDir is 0700 and owned by root, so
// sshd (reading authorized_keys as the login user) and programs run as a
// test user could not see into it.
func publicTempDir(t testing.TB, prefix string) string {
	t.Helper()
	base := os.TempDir()
	if !traversableByOthers(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dir
}

// traversableByOthers reports whether every directory from / down to dir
// has the search bit for others.
func traversableByOthers(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}
