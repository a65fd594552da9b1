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
		e, compute := sumFor(fi, kind, true)
		if compute || e.sum != want {
			t.Fatalf("kind %d after a reload: compute %v, sum %q, want %q", kind, compute, e.sum, want)
		}
	}

	os.WriteFile(src, []byte(strings.Repeat("y", 100_000)), 0o644)
	fi2, _ := os.Stat(src)
	forget()
	loadSums()
	if _, compute := sumFor(fi2, treeSum, true); !compute {
		t.Fatal("a rewritten file's digest was taken from the cache")
	}

	// A torn last line (a crash mid-append) is skipped, not fatal.
	fh, _ := os.OpenFile(localSumsFile, os.O_WRONLY|os.O_APPEND, 0)
	fh.WriteString(`{"dev":1,"ino":`)
	fh.Close()
	forget()
	loadSums()
	if e, compute := sumFor(fi, plainSum, true); compute || e.sum != sum {
		t.Fatal("a torn line lost the sums before it")
	}
}

// A source's hash that nobody waits for any more is given up (a put
// whose target lacks the file), unless someone else still waits for it.
func TestLocalSumGivenUpWhenNobodyWaits(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { localSumsFile = old }(localSumsFile)
	localSumsFile = filepath.Join(dir, "local-sums")
	src := filepath.Join(dir, "src")
	// 512 MiB, sparse: hashing it all takes far longer than giving up.
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(512 << 20); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()

	e, start := sumFor(fi, treeSum, false)
	if !start {
		t.Fatal("a new file's digest was found already")
	}
	startHash(e, f, fi, treeSum)
	leave(e)
	<-e.done
	if e.sum != "" {
		t.Fatal("the hash went on to the end with nobody waiting for it")
	}
	if _, start := sumFor(fi, treeSum, true); !start {
		t.Fatal("a given-up digest was remembered")
	}

	// Two waiters: the first leaving does not stop the second's hash,
	// even once the first's handle is closed.
	os.WriteFile(src, []byte(strings.Repeat("z", 3<<20)), 0o644)
	g, _ := os.Open(src)
	fi, _ = g.Stat()
	e, _ = sumFor(fi, treeSum, false)
	startHash(e, g, fi, treeSum)
	e2, start2 := sumFor(fi, treeSum, false)
	if start2 || e2 != e {
		t.Fatal("a second waiter started a hash of its own")
	}
	leave(e)
	g.Close()
	<-e.done
	if e.sum == "" {
		t.Fatal("the first waiter leaving stopped a hash another waits for")
	}
	leave(e2)
}
