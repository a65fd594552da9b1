package tunnel_test

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/chopplan/chopplan/agent"
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
