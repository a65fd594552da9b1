package tunnel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
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
	// even once the first's handle is closed (16 blocks: a hash stopped
	// or cut short would not get through them).
	os.WriteFile(src, []byte("z"), 0o644)
	os.Truncate(src, 128<<20)
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

// Whoever asks for a sum right after a hash was given up gets a new hash,
// not the given-up one's empty result.
func TestLocalSumAfterAGivenUpHash(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { localSumsFile = old }(localSumsFile)
	localSumsFile = filepath.Join(dir, "local-sums")
	f, err := os.Create(filepath.Join(dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(256 << 20) // sparse: 32 blocks, far longer to hash than to give up
	fi, _ := f.Stat()
	e, _ := sumFor(fi, treeSum, false)
	startHash(e, f, fi, treeSum)
	leave(e)
	if got := localSum(context.Background(), f, fi, treeSum); got == "" {
		t.Fatal("a sum asked for after a hash was given up came back empty")
	}
	<-e.done
}

// Forgotten sums stay forgotten in the next run.
func TestForgottenSumsStayForgotten(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { localSumsFile = old }(localSumsFile)
	localSumsFile = filepath.Join(dir, "local-sums")
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("content"), 0o644)
	fi, _ := os.Stat(src)
	rememberSum(fi, plainSum, strings.Repeat("a", 64))
	rememberSum(fi, treeSum, strings.Repeat("b", 64))
	forgetSums(fi)
	sumsMu.Lock()
	sums = map[sumKey]*sumEntry{}
	sumsMu.Unlock()
	loadSums()
	for _, kind := range []sumKind{plainSum, treeSum} {
		if got := rememberedSum(fi, kind); got != "" {
			t.Fatalf("kind %d: %q remembered after forgetSums and a reload", kind, got)
		}
	}
}

// A put of a source whose sha256 is remembered sends the remembered sum
// without hashing again; should that sum be wrong (a rewrite that left
// the file's timestamps as they were), the target refuses the content,
// and the put forgets the sum and succeeds by hashing as it sends.
func TestPutWithAWrongRememberedSum(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { localSumsFile = old }(localSumsFile)
	localSumsFile = filepath.Join(dir, "local-sums")
	src, dest := filepath.Join(dir, "src"), filepath.Join(dir, "dest")
	content := []byte(strings.Repeat("the content\n", 1000))
	os.WriteFile(src, content, 0o644)
	fi, _ := os.Stat(src)
	wrong := sha256.Sum256([]byte("other content"))
	rememberSum(fi, plainSum, hex.EncodeToString(wrong[:]))

	tun := New(Local("local"), Options{Output: io.Discard})
	defer tun.Close()
	res, err := tun.Put(context.Background(), src, dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	right := sha256.Sum256(content)
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, content) {
		t.Fatalf("dest holds %d bytes, want the source's %d", len(got), len(content))
	}
	if res.SHA256 != hex.EncodeToString(right[:]) {
		t.Fatalf("result sha256 %s, want %x", res.SHA256, right)
	}
	if got := rememberedSum(fi, plainSum); got != hex.EncodeToString(right[:]) {
		t.Fatalf("remembered sum after the put: %q, want %x", got, right)
	}
	// A put to no destination whose first attempt is refused leaves no
	// temp file behind; one in check mode makes none.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	tun2 := New(Local("local2"), Options{Output: io.Discard})
	defer tun2.Close()
	forgetSums(fi)
	rememberSum(fi, plainSum, hex.EncodeToString(wrong[:]))
	if _, err := tun2.Put(context.Background(), src, "", &PutOptions{Check: true}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "chopplan-put-*")); len(left) != 0 {
		t.Fatalf("a put in check mode made %v", left)
	}
	r, err := tun2.Put(context.Background(), src, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "chopplan-put-*")); len(left) != 1 || left[0] != r.RemotePath {
		t.Fatalf("temp files after a refused and a good attempt: %v (the put's: %s)", left, r.RemotePath)
	}

	// The right sum now serves the next put, which sends without hashing.
	if _, err := tun.Put(context.Background(), src, dest+"2", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest + "2"); !bytes.Equal(got, content) {
		t.Fatal("the second put's copy differs")
	}
}
