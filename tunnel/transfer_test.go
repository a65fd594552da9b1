package tunnel_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/internal/atomicfile"
	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
)

// stallingReader yields data up to stallAt, says so on reached, then
// blocks until release is closed: a sender that stops half-way.
type stallingReader struct {
	data    []byte
	stallAt int
	reached chan struct{}
	release chan struct{}
	off     int
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.off >= r.stallAt {
		select {
		case <-r.reached:
		default:
			close(r.reached)
		}
		<-r.release
		return 0, io.ErrClosedPipe
	}
	n := copy(p, r.data[r.off:r.stallAt])
	r.off += n
	return n, nil
}

// A put whose agent is killed half-way leaves the destination as it was,
// and nothing beside it.
func TestPutKilledHalfway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dest := filepath.Join(dir, "dest")
	os.WriteFile(dest, []byte("old content\n"), 0o644)
	tun := tunnel.New(tunnel.Local("local"), tunnel.Options{Output: io.Discard})
	defer tun.Close()
	peer, err := tun.Peer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	body := &stallingReader{data: make([]byte, size), stallAt: size / 2, reached: make(chan struct{}), release: make(chan struct{})}
	rand.Read(body.data)
	defer close(body.release)
	errc := make(chan error, 1)
	go func() {
		_, err := tun.CallWith(ctx, "put", map[string]any{"dest": dest, "size": size}, &agent.CallOptions{In: body})
		errc <- err
	}()
	<-body.reached
	// The agent has half the file; it dies.
	if err := syscall.Kill(peer.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !agent.IsConnError(err) {
		t.Fatalf("put on a killed agent: %v", err)
	}
	got, _ := os.ReadFile(dest)
	if string(got) != "old content\n" {
		t.Fatalf("dest holds %d bytes, not the old content", len(got))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("beside dest: %v", names)
	}
	// A new put succeeds on a new agent.
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, body.data, 0o644)
	if _, err := tun.Put(ctx, src, dest, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); len(got) != size {
		t.Fatalf("after a new put, dest holds %d bytes", len(got))
	}
}

// A file rewritten with the same size and its old modification time is
// still seen as changed: sums are remembered by ctime too, and compared
// by sha256, never by size and mtime alone.
func TestPutSeesContentChangeDespiteSameSizeAndMtime(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "src"), filepath.Join(dir, "dest")
	os.WriteFile(src, []byte("version A\n"), 0o644)
	tunnel.PrehashLocal(src)
	tun := tunnel.New(tunnel.Local("local"), tunnel.Options{Output: io.Discard})
	defer tun.Close()
	if r, err := tun.Put(ctx, src, dest, nil); err != nil || !r.Changed {
		t.Fatalf("first put: %+v, %v", r, err)
	}
	if r, err := tun.Put(ctx, src, dest, nil); err != nil || r.Changed {
		t.Fatalf("unchanged put: %+v, %v", r, err)
	}
	fi, _ := os.Stat(src)
	os.WriteFile(src, []byte("version B\n"), 0o644)
	os.Chtimes(src, fi.ModTime(), fi.ModTime())
	if r, err := tun.Put(ctx, src, dest, nil); err != nil || !r.Changed {
		t.Fatalf("put after a same-size, same-mtime rewrite: %+v, %v", r, err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "version B\n" {
		t.Fatalf("dest holds %q", b)
	}
}

// sparseFile makes a file of size bytes that takes no disk: a fetch of it
// streams zeros as fast as the pipe goes.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return path
}

// A fetch whose context ends mid-stream fails; it does not crash the
// controller (the stream's writer ran on into a hasher already summed).
func TestFetchCancelledMidStream(t *testing.T) {
	t.Parallel()
	tun := tunnel.New(tunnel.Local("me"), tunnel.Options{})
	defer tun.Close()
	src := sparseFile(t, 64<<30)
	dir := t.TempDir()
	for i := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		dest := filepath.Join(dir, "dest")
		go func() {
			// Cancelled once bytes flow (the destination's directory
			// holds nothing else but the temp file; O_TMPFILE has no
			// name, so this waits on the process's written bytes).
			for range 1000 {
				if n := writtenBytes(t); n > int64(i+1)<<26 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		if _, err := tun.Fetch(ctx, src, dest); err == nil {
			t.Fatal("a fetch cancelled mid-stream succeeded")
		}
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Fatalf("the cancelled fetch left %s: %v", dest, err)
		}
	}
}

// writtenBytes is how much this process has written, from /proc.
func writtenBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// A fetch into a file system that fills up fails with the local error,
// at once: the agent is told to stop instead of waiting for window.
func TestFetchIntoAFullFileSystem(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	tun := tunnel.New(tunnel.Local("me"), tunnel.Options{})
	defer tun.Close()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tun.Fetch(context.Background(), src, filepath.Join(dir, "dest")) // no deadline: a hang fails the test by its timeout
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fetch into a full file system: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left in the full file system: %v", entries)
	}
	// The connection is still good.
	if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
		t.Fatal(err)
	}
}

// A fetched file takes the target's mode less this user's umask, and a
// fetch to no path that fails leaves no temp file behind.
func TestFetchModeAndNoLeftovers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	tun := tunnel.New(tunnel.Local("me"), tunnel.Options{})
	defer tun.Close()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("x"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(src, 0o777)
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := tun.Fetch(context.Background(), src, dest); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dest)
	if want := 0o777 &^ atomicfile.Umask(); err != nil || fi.Mode().Perm() != want {
		t.Fatalf("fetched mode %v, want %v: %v", fi.Mode().Perm(), want, err)
	}
	if _, err := tun.Fetch(context.Background(), filepath.Join(tmp, "missing"), ""); err == nil {
		t.Fatal("a fetch of a missing file succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "chopplan-fetch-*")); len(left) != 0 {
		t.Fatalf("a failed fetch left %v", left)
	}
}
