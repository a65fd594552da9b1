package tunnel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Sums worked out in one run are found by the next (here: after the
// in-memory ones are forgotten), and a file changed since is not.
func TestLocalSumsKeptBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { localSumsFile = old }(localSumsFile)
	localSumsFile = filepath.Join(dir, "cache", "local-sums")
	forget := func() {
		sumsMu.Lock()
		sums = map[sumKey]*sumEntry{}
		sumsMu.Unlock()
	}
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte(strings.Repeat("x", 100_000)), 0o644)
	f, _ := os.Open(src)
	defer f.Close()
	fi, _ := f.Stat()
	digest := localSum(context.Background(), f, fi, treeSum)
	sum := localSum(context.Background(), f, fi, plainSum)
	if digest == "" || sum == "" || digest == sum {
		t.Fatalf("digest %q, sum %q", digest, sum)
	}

	forget()
	loadSums()
	for kind, want := range map[sumKind]string{treeSum: digest, plainSum: sum} {
		e, compute := sumFor(fi, kind)
		if compute || e.sum != want {
			t.Fatalf("kind %d after a reload: compute %v, sum %q, want %q", kind, compute, e.sum, want)
		}
	}

	os.WriteFile(src, []byte(strings.Repeat("y", 100_000)), 0o644)
	fi2, _ := os.Stat(src)
	forget()
	loadSums()
	if _, compute := sumFor(fi2, treeSum); !compute {
		t.Fatal("a rewritten file's digest was taken from the cache")
	}

	// A torn last line (a crash mid-append) is skipped, not fatal.
	fh, _ := os.OpenFile(localSumsFile, os.O_WRONLY|os.O_APPEND, 0)
	fh.WriteString(`{"dev":1,"ino":`)
	fh.Close()
	forget()
	loadSums()
	if e, compute := sumFor(fi, plainSum); compute || e.sum != sum {
		t.Fatal("a torn line lost the sums before it")
	}
}
