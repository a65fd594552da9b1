package tunnel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"
	"syscall"
)

// The sha256 of local files being put, remembered by the file's identity
// and by every attribute a write changes (device, inode, size, mtime,
// ctime), so that a run can hash its sources while it connects
// (PrehashLocal) and a put of one file to many hosts hashes it once. Any
// write to the file changes its ctime, so a remembered sum is never that
// of other content; the target's copy is always hashed afresh.
type sumKey struct {
	dev, ino           uint64
	size, mtime, ctime int64
}

type sumEntry struct {
	done chan struct{}
	sum  string // "" when hashing failed
}

// maxSums bounds the sums remembered; past it they are forgotten.
const maxSums = 4096

var (
	sumsMu sync.Mutex
	sums   = map[sumKey]*sumEntry{}
)

func keyOf(fi os.FileInfo) (sumKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return sumKey{}, false
	}
	return sumKey{
		dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
	}, true
}

// PrehashLocal starts hashing the local file at path in the background,
// unless its sum is known or on its way. A later Put of it uses the sum.
func PrehashLocal(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	e, start := sumFor(fi)
	if !start {
		f.Close()
		return
	}
	go func() {
		defer f.Close()
		hashInto(e, f, fi)
	}()
}

// sumFor returns the entry for fi, and whether the caller must compute it.
func sumFor(fi os.FileInfo) (*sumEntry, bool) {
	k, ok := keyOf(fi)
	if !ok {
		return &sumEntry{done: make(chan struct{})}, true
	}
	sumsMu.Lock()
	defer sumsMu.Unlock()
	if e, ok := sums[k]; ok {
		return e, false
	}
	if len(sums) >= maxSums {
		sums = map[sumKey]*sumEntry{}
	}
	e := &sumEntry{done: make(chan struct{})}
	sums[k] = e
	return e, true
}

func hashInto(e *sumEntry, f *os.File, fi os.FileInfo) {
	// A section reader reads with pread and leaves f's offset alone.
	e.sum = hashReader(context.Background(), io.NewSectionReader(f, 0, fi.Size()))
	if e.sum == "" {
		if k, ok := keyOf(fi); ok {
			sumsMu.Lock()
			delete(sums, k)
			sumsMu.Unlock()
		}
	}
	close(e.done)
}

// localSum is f's sha256: remembered, on its way, or computed now.
func localSum(ctx context.Context, f *os.File, fi os.FileInfo) string {
	e, compute := sumFor(fi)
	if compute {
		hashInto(e, f, fi)
	}
	select {
	case <-e.done:
		return e.sum
	case <-ctx.Done():
		return ""
	}
}

func hashReader(ctx context.Context, r io.Reader) string {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for ctx.Err() == nil {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err != nil {
			if err == io.EOF {
				return hex.EncodeToString(h.Sum(nil))
			}
			return ""
		}
	}
	return ""
}
