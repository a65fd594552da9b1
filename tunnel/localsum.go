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
	"golang.org/x/sys/unix"
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
	sum  string // "" when hashing failed or was given up

	// Guarded by sumsMu. A hash nobody waits for any more is given up
	// (stop), unless it was started to be kept (PrehashLocal): a put
	// whose target turns out to lack the file stops hashing the source.
	waiters int
	keep    bool
	stop    context.CancelFunc
	key     sumKey
	keyed   bool // key is set: the entry is in sums under it until given up
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
// it is known or on its way. It is worked out to the end.
func PrehashLocal(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	e, start := sumFor(fi, treeSum, true)
	if start {
		startHash(e, f, fi, treeSum)
	}
}

// sumFor returns the entry for fi's sum of kind, and whether the caller
// must start computing it (startHash). The caller waits for it, and says
// when it stops waiting (leave), unless keep: then it is computed to the
// end whoever waits.
func sumFor(fi os.FileInfo, kind sumKind, keep bool) (*sumEntry, bool) {
	loadedSums.Do(loadSums)
	sumsMu.Lock()
	defer sumsMu.Unlock()
	k, ok := keyOf(fi, kind)
	e := sums[k]
	start := !ok || e == nil
	if start {
		e = &sumEntry{done: make(chan struct{}), key: k, keyed: ok}
		if ok {
			if len(sums) >= maxSums {
				sums = map[sumKey]*sumEntry{}
			}
			sums[k] = e
		}
	}
	e.keep = e.keep || keep
	if !keep {
		e.waiters++
	}
	return e, start
}

// leave ends a wait on e. A hash nobody waits for any more stops, and
// leaves sums at once: whoever asks next starts a new one rather than
// joining one that will end with no sum.
func leave(e *sumEntry) {
	sumsMu.Lock()
	defer sumsMu.Unlock()
	e.waiters--
	if e.waiters > 0 || e.keep || e.stop == nil {
		return
	}
	select {
	case <-e.done:
		return // finished: its sum stays
	default:
	}
	e.stop()
	if e.keyed && sums[e.key] == e {
		delete(sums, e.key)
	}
}

// startHash computes e's sum in the background, reading a handle of its
// own on f's file, so it may outlive the caller's f.
func startHash(e *sumEntry, f *os.File, fi os.FileInfo, kind sumKind) {
	ctx, stop := context.WithCancel(context.Background())
	sumsMu.Lock()
	e.stop = stop
	sumsMu.Unlock()
	g, err := dupFile(f)
	if err != nil {
		finish(e, "")
		stop()
		return
	}
	go func() {
		defer stop()
		defer g.Close()
		// Reads use pread (ReadAt) and leave the shared offset alone.
		var sum string
		if kind == treeSum {
			if d, err := hashpipe.Tree(ctx, g, fi.Size()); err == nil {
				sum = hex.EncodeToString(d)
			}
		} else {
			sum = hashReader(ctx, io.NewSectionReader(g, 0, fi.Size()))
		}
		finish(e, sum)
	}()
}

// finish records e's sum, or forgets e when there is none.
func finish(e *sumEntry, sum string) {
	e.sum = sum
	if e.keyed {
		if sum == "" {
			sumsMu.Lock()
			if sums[e.key] == e {
				delete(sums, e.key)
			}
			sumsMu.Unlock()
		} else {
			storeSum(e.key, sum)
		}
	}
	close(e.done)
}

// dupFile is a second handle on f's open file.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(u uintptr) { fd, dupErr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// localSum is f's sum of kind: remembered, on its way, or computed now.
// It is "" when the sum could not be worked out or ctx ended first.
func localSum(ctx context.Context, f *os.File, fi os.FileInfo, kind sumKind) string {
	e, start := sumFor(fi, kind, false)
	defer leave(e)
	if start {
		startHash(e, f, fi, kind)
	}
	select {
	case <-e.done:
		return e.sum
	case <-ctx.Done():
		return ""
	}
}

// rememberedSum is fi's sum of kind when it is known already, else "".
func rememberedSum(fi os.FileInfo, kind sumKind) string {
	loadedSums.Do(loadSums)
	k, ok := keyOf(fi, kind)
	if !ok {
		return ""
	}
	sumsMu.Lock()
	e := sums[k]
	sumsMu.Unlock()
	if e == nil {
		return ""
	}
	select {
	case <-e.done:
		return e.sum
	default:
		return ""
	}
}

// forgetSums drops what is remembered of fi, in memory and on disk (a
// line with no sum supersedes the file's earlier lines).
func forgetSums(fi os.FileInfo) {
	for _, kind := range []sumKind{plainSum, treeSum} {
		if k, ok := keyOf(fi, kind); ok {
			sumsMu.Lock()
			delete(sums, k)
			sumsMu.Unlock()
			storeSum(k, "")
		}
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
		if json.Unmarshal(sc.Bytes(), &s) != nil || s.Kind > treeSum {
			continue
		}
		lines++
		k := sumKey{dev: s.Dev, ino: s.Ino, size: s.Size, mtime: s.Mtime, ctime: s.Ctime, kind: s.Kind}
		if s.Sum == "" {
			delete(loaded, k) // forgotten (forgetSums)
			continue
		}
		loaded[k] = s.Sum
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

// storeSum appends a sum to localSumsFile, or with sum "" a line that
// forgets the file's earlier ones; losing it costs only a hash.
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
