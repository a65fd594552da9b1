package tunnel

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/chopplan/chopplan/internal/atomicfile"
	"github.com/chopplan/chopplan/internal/hashpipe"
)

// The sums of local files being put, remembered by the file's identity
// and by every attribute a write changes (device, inode, size, mtime,
// ctime): a run hashes its sources while it connects (PrehashLocal), and
// a put of one file to many hosts hashes it once. Any write to the file
// changes its ctime, so a remembered sum is never that of other content.
// They are also kept on disk (localSumsFile), so a later run that puts
// an unchanged source again hashes only the target's copy. The target's
// copy is always hashed afresh.
//
// Two kinds are kept: the file's sha256, which results report, and its
// tree digest (hashpipe.Tree), which a put compares with the target's.
type sumKind uint8

const (
	plainSum sumKind = iota // sha256 of the whole file
	treeSum                 // hashpipe.Tree
)

type sumKey struct {
	dev, ino           uint64
	size, mtime, ctime int64
	kind               sumKind
}

type sumEntry struct {
	done chan struct{}
	sum  string // "" when hashing failed
}

// maxSums bounds the sums remembered; past it they are forgotten.
const maxSums = 4096

var (
	sumsMu     sync.Mutex
	sums       = map[sumKey]*sumEntry{}
	loadedSums sync.Once
)

func keyOf(fi os.FileInfo, kind sumKind) (sumKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return sumKey{}, false
	}
	return sumKey{
		dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		kind: kind,
	}, true
}

// PrehashLocal starts working out, in the background, the tree digest a
// Put of the local file at path compares with the target's copy, unless
// it is known or on its way.
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
	e, start := sumFor(fi, treeSum)
	if !start {
		f.Close()
		return
	}
	go func() {
		defer f.Close()
		hashInto(e, f, fi, treeSum)
	}()
}

// sumFor returns the entry for fi's sum of kind, and whether the caller
// must compute it.
func sumFor(fi os.FileInfo, kind sumKind) (*sumEntry, bool) {
	loadedSums.Do(loadSums)
	k, ok := keyOf(fi, kind)
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

func hashInto(e *sumEntry, f *os.File, fi os.FileInfo, kind sumKind) {
	// Reads use pread (ReadAt) and leave f's offset alone.
	if kind == treeSum {
		if d, err := hashpipe.Tree(f, fi.Size()); err == nil {
			e.sum = hex.EncodeToString(d)
		}
	} else {
		e.sum = hashReader(context.Background(), io.NewSectionReader(f, 0, fi.Size()))
	}
	if k, ok := keyOf(fi, kind); ok {
		if e.sum == "" {
			sumsMu.Lock()
			delete(sums, k)
			sumsMu.Unlock()
		} else {
			storeSum(k, e.sum)
		}
	}
	close(e.done)
}

// localSum is f's sum of kind: remembered, on its way, or computed now.
func localSum(ctx context.Context, f *os.File, fi os.FileInfo, kind sumKind) string {
	e, compute := sumFor(fi, kind)
	if compute {
		hashInto(e, f, fi, kind)
	}
	select {
	case <-e.done:
		return e.sum
	case <-ctx.Done():
		return ""
	}
}

// rememberSum records a sum worked out elsewhere (a put computes the
// sha256 of what it sends) for the file fi described before it was read.
func rememberSum(fi os.FileInfo, kind sumKind, sum string) {
	loadedSums.Do(loadSums)
	k, ok := keyOf(fi, kind)
	if !ok || sum == "" {
		return
	}
	sumsMu.Lock()
	_, known := sums[k]
	if !known {
		e := &sumEntry{done: make(chan struct{}), sum: sum}
		close(e.done)
		sums[k] = e
	}
	sumsMu.Unlock()
	if !known {
		storeSum(k, sum)
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

// storedSum is one line of localSumsFile.
type storedSum struct {
	Dev   uint64  `json:"dev"`
	Ino   uint64  `json:"ino"`
	Size  int64   `json:"size"`
	Mtime int64   `json:"mtime"`
	Ctime int64   `json:"ctime"`
	Kind  sumKind `json:"kind"`
	Sum   string  `json:"sum"`
}

// localSumsFile is where sums are kept between runs: one JSON object a
// line, appended as sums are worked out (a short append is atomic), the
// last line for a file winning. "" when there is no cache directory.
var localSumsFile = func() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "chopplan", "local-sums")
}()

var sumsFileMu sync.Mutex

// loadSums reads localSumsFile into sums, and rewrites it without its
// superseded lines once they outnumber the live ones.
func loadSums() {
	if localSumsFile == "" {
		return
	}
	f, err := os.Open(localSumsFile)
	if err != nil {
		return
	}
	defer f.Close()
	loaded := map[sumKey]string{}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s storedSum
		if json.Unmarshal(sc.Bytes(), &s) != nil || s.Sum == "" || s.Kind > treeSum {
			continue
		}
		lines++
		loaded[sumKey{dev: s.Dev, ino: s.Ino, size: s.Size, mtime: s.Mtime, ctime: s.Ctime, kind: s.Kind}] = s.Sum
	}
	sumsMu.Lock()
	for k, sum := range loaded {
		if len(sums) >= maxSums {
			break
		}
		e := &sumEntry{done: make(chan struct{}), sum: sum}
		close(e.done)
		sums[k] = e
	}
	sumsMu.Unlock()
	if lines > 2*maxSums || lines > 2*len(loaded)+64 {
		compactSums(loaded)
	}
}

func compactSums(loaded map[sumKey]string) {
	sumsFileMu.Lock()
	defer sumsFileMu.Unlock()
	var b []byte
	n := 0
	for k, sum := range loaded {
		if n++; n > maxSums {
			break
		}
		line, _ := json.Marshal(storedOf(k, sum))
		b = append(append(b, line...), '\n')
	}
	atomicfile.WriteFile(localSumsFile, b, 0o600)
}

func storedOf(k sumKey, sum string) storedSum {
	return storedSum{Dev: k.dev, Ino: k.ino, Size: k.size, Mtime: k.mtime, Ctime: k.ctime, Kind: k.kind, Sum: sum}
}

// storeSum appends a sum to localSumsFile; losing it costs only a hash.
func storeSum(k sumKey, sum string) {
	if localSumsFile == "" {
		return
	}
	line, _ := json.Marshal(storedOf(k, sum))
	sumsFileMu.Lock()
	defer sumsFileMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(localSumsFile), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(localSumsFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}
