package tunnel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/internal/atomicfile"
)

// AgentBinary is one agent executable that can be shipped to a target.
type AgentBinary struct {
	OS, Arch string
	Path     string
	SHA256   string // hex sha256 of the uncompressed file: the cache key on targets
	Size     int64
	modTime  time.Time // of the file when it was hashed

	compressed sync.Map // encoding ("zst", "gz") -> *compressedAgent
}

type compressedAgent struct {
	once sync.Once
	up   *AgentUpload
	err  error
}

// AgentUpload is an agent binary as it travels to a target.
type AgentUpload struct {
	Size   int64
	SHA256 string // hex sha256 of the bytes as sent, which the target checks

	data []byte   // the bytes, when this process made them
	file *os.File // else a cached copy, open for the process's life
	// else the binary itself, opened for each upload and refused if its
	// size or modification time changed since it was hashed
	path    string
	modTime time.Time
}

// errBinaryChanged is an agent binary that is not the one hashed when
// this process first looked at it: its sha256, the name it is cached under
// on targets, would be wrong.
var errBinaryChanged = errors.New("changed since it was hashed: was it rebuilt? Start again")

// sourceError is a failure to read an upload's bytes, as opposed to one
// to send them: the target is then still waiting for bytes that will not
// come, and the caller must end the session rather than wait for its word.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// source returns a reader of the upload's bytes once it has checked that
// they are all there (a file may have changed since), and what to close
// when they are sent.
func (u *AgentUpload) source() (io.Reader, func(), error) {
	switch {
	case u.data != nil:
		return bytes.NewReader(u.data), func() {}, nil
	case u.file != nil:
		fi, err := u.file.Stat()
		if err != nil {
			return nil, nil, &sourceError{fmt.Errorf("tunnel: agent upload: %w", err)}
		}
		if fi.Size() != u.Size {
			return nil, nil, &sourceError{fmt.Errorf("tunnel: agent upload %s changed in place: %d bytes, %d expected", u.file.Name(), fi.Size(), u.Size)}
		}
		return io.NewSectionReader(u.file, 0, u.Size), func() {}, nil
	}
	f, err := os.Open(u.path)
	if err != nil {
		return nil, nil, &sourceError{fmt.Errorf("tunnel: agent binary: %w", err)}
	}
	if !u.sameBinary(f) {
		f.Close()
		return nil, nil, &sourceError{fmt.Errorf("tunnel: agent binary %s %w", u.path, errBinaryChanged)}
	}
	return f, func() { f.Close() }, nil
}

// sameBinary reports whether f is still the binary that was hashed: its
// size and time unchanged, or, with only its time changed (touched, or
// replaced by a copy), the same bytes. f is left at its start.
func (u *AgentUpload) sameBinary(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() != u.Size {
		return false
	}
	if fi.ModTime().Equal(u.modTime) {
		return true
	}
	if hashReader(context.Background(), f) != u.SHA256 {
		return false
	}
	_, err = f.Seek(0, io.SeekStart)
	return err == nil
}

// WriteTo sends the upload's bytes to w.
func (u *AgentUpload) WriteTo(w io.Writer) (int64, error) {
	r, done, err := u.source()
	if err != nil {
		return 0, err
	}
	defer done()
	return u.send(w, r)
}

// send copies the upload's bytes from r, its source, to w in pieces of the
// size the pacing works in. A failure to read them (a file truncated
// since source looked) is a *sourceError.
func (u *AgentUpload) send(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, pacingChunk)
	var n int64
	for n < u.Size {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), u.Size-n)])
		if err != nil {
			return n, &sourceError{fmt.Errorf("tunnel: agent upload changed while it was sent: %d of %d bytes read (%v)", n+int64(k), u.Size, err)}
		}
		k, err = w.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Upload returns the binary in enc, "zst" (zstd) or "gz" (gzip), made once
// per process and kept in the user's cache directory so later runs skip
// the work (any other enc is the binary as it is).
func (b *AgentBinary) Upload(enc string) (*AgentUpload, error) {
	if enc != "zst" && enc != "gz" {
		return &AgentUpload{Size: b.Size, SHA256: b.SHA256, path: b.Path, modTime: b.modTime}, nil
	}
	v, _ := b.compressed.LoadOrStore(enc, &compressedAgent{})
	c := v.(*compressedAgent)
	c.once.Do(func() { c.up, c.err = b.compress(enc) })
	if c.err != nil && !errors.Is(c.err, errBinaryChanged) {
		b.compressed.CompareAndDelete(enc, c) // the next connect tries again
	}
	return c.up, c.err
}

// compress makes the enc form of the binary. zstd's default level takes a
// 14 MB agent to 5.7 MB in ~0.16 s, once; the host unpacks it three times
// as fast as gzip's fastest level, which makes 6.2 MB.
//
// The target checks the upload against the sha256 sent with it and then
// trusts what it unpacks to be agent-SHA256, so what is compressed must
// be that binary: the file is hashed again before it is compressed (it
// may have been rebuilt since). The result is kept in the user's cache
// directory with its sha256 beside it (NAME.sha256), and the size and
// modification time it had when that sha256 was last checked (NAME.seen).
// A later run opens the cached copy and sends it from the file as it goes
// (an open file is not affected when the copy is replaced or removed),
// with the recorded sha256 while size and time still match, and hashes it
// again first otherwise: reading and hashing the 5.8 MB copy before
// sending it cost a first connect 8 ms while the target waited. A copy
// damaged in place since, size and time kept, fails the target's checks;
// the controller then drops it (dropUpload), so the next run makes it
// again.
func (b *AgentBinary) compress(enc string) (*AgentUpload, error) {
	cache := b.uploadCache(enc)
	if cache != "" {
		if up, ok := cachedUpload(cache); ok {
			return up, nil
		}
	}
	raw, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("tunnel: agent binary: %w", err)
	}
	if got := hexSHA256(raw); got != b.SHA256 {
		return nil, fmt.Errorf("tunnel: agent binary %s %w (sha256 %s, then %s)", b.Path, errBinaryChanged, got, b.SHA256)
	}
	var out []byte
	if enc == "zst" {
		// The frame checksum is what ties the unpacked agent to the upload the
		// target checks by sha256 (see bootstrapScript).
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, err
		}
		out = zw.EncodeAll(raw, nil)
	} else {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(raw)
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("tunnel: compressing agent binary: %w", err)
		}
		out = buf.Bytes()
	}
	sum := hexSHA256(out)
	if cache != "" && atomicfile.WriteFile(cache, out, 0o600) == nil &&
		atomicfile.WriteFile(cache+".sha256", []byte(sum+"\n"), 0o600) == nil {
		recordSeen(cache)
	}
	return &AgentUpload{Size: int64(len(out)), SHA256: sum, data: out}, nil
}

// uploadCache is where the enc form of the binary is kept across runs,
// or "" when the user has no cache directory.
func (b *AgentBinary) uploadCache(enc string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "chopplan", "agent-"+b.SHA256+"."+enc)
}

// forgetUpload drops the enc form of the binary this process holds, so
// the next upload makes or opens it again.
func (b *AgentBinary) forgetUpload(enc string) { b.compressed.Delete(enc) }

// dropUpload drops the enc form of the binary, which a target refused:
// the cached copy too.
func (b *AgentBinary) dropUpload(enc string) {
	if enc != "zst" && enc != "gz" {
		return // none is made (Upload)
	}
	if cache := b.uploadCache(enc); cache != "" {
		os.Remove(cache + ".seen")
		os.Remove(cache + ".sha256")
		os.Remove(cache)
	}
	b.forgetUpload(enc)
}

// cachedUpload returns the upload cached at path, with the sha256 recorded
// beside it: at once while the file's size and modification time are the
// ones seen when that sha256 was last checked, else once the file is
// hashed again and found to match.
func cachedUpload(path string) (*AgentUpload, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	fi, err := f.Stat()
	recorded, err2 := os.ReadFile(path + ".sha256")
	fields := strings.Fields(string(recorded)) // one field; an older chopplan may have written three
	if err != nil || err2 != nil || fi.Size() == 0 || len(fields) == 0 || len(fields[0]) != 64 {
		f.Close()
		return nil, false
	}
	up := &AgentUpload{Size: fi.Size(), SHA256: fields[0], file: f}
	if seen, err := os.ReadFile(path + ".seen"); err == nil && string(seen) == seenRecord(fi) {
		return up, true
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || hexSHA256(data) != up.SHA256 {
		return nil, false
	}
	up.Size, up.file, up.data = int64(len(data)), nil, data
	recordSeen(path)
	return up, true
}

// recordSeen notes the size and modification time of the cached upload at
// path, whose sha256 was just made or checked.
func recordSeen(path string) {
	if fi, err := os.Stat(path); err == nil {
		_ = atomicfile.WriteFile(path+".seen", []byte(seenRecord(fi)), 0o600)
	}
}

func seenRecord(fi os.FileInfo) string {
	return fmt.Sprintf("%d %d\n", fi.Size(), fi.ModTime().UnixNano())
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// AgentBinaries finds agent executables by target platform: the running
// executable for its own platform, and chopplan-OS-ARCH files in Dir for
// the others (`make build` writes linux/amd64 and linux/arm64 to dist/).
type AgentBinaries struct {
	// Dir holds chopplan-OS-ARCH executables. Empty means $CHOPPLAN_AGENT_DIR,
	// else the directory of the running executable.
	Dir string

	mu    sync.Mutex
	found map[string]*AgentBinary
}

var (
	defaultBinaries     *AgentBinaries
	defaultBinariesOnce sync.Once
)

// DefaultAgentBinaries is the process-wide set, shared so that each binary
// is hashed and compressed at most once.
func DefaultAgentBinaries() *AgentBinaries {
	defaultBinariesOnce.Do(func() { defaultBinaries = &AgentBinaries{} })
	return defaultBinaries
}

// Self returns the running executable as an agent binary.
func (a *AgentBinaries) Self() (*AgentBinary, error) {
	return a.For(runtime.GOOS, runtime.GOARCH)
}

// For returns the agent binary for goos/goarch, or an error naming what is
// missing and where it was looked for.
func (a *AgentBinaries) For(goos, goarch string) (*AgentBinary, error) {
	key := goos + "-" + goarch
	a.mu.Lock()
	defer a.mu.Unlock()
	if b, ok := a.found[key]; ok {
		return b, nil
	}
	var path string
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("tunnel: finding own executable: %w", err)
		}
		path = exe
	} else {
		dir := a.dir()
		path = filepath.Join(dir, "chopplan-"+key)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("tunnel: no agent for %s/%s: %s is missing (run `make build`, or set CHOPPLAN_AGENT_DIR to a directory holding chopplan-%s)", goos, goarch, path, key)
		}
	}
	b, err := hashBinary(path)
	if err != nil {
		return nil, err
	}
	b.OS, b.Arch = goos, goarch
	if a.found == nil {
		a.found = map[string]*AgentBinary{}
	}
	a.found[key] = b
	return b, nil
}

// Platforms lists the OS-ARCH pairs available without error.
func (a *AgentBinaries) Platforms() []string {
	out := []string{runtime.GOOS + "-" + runtime.GOARCH}
	matches, _ := filepath.Glob(filepath.Join(a.dir(), "chopplan-*-*"))
	for _, m := range matches {
		p := filepath.Base(m)[len("chopplan-"):]
		if p != out[0] {
			out = append(out, p)
		}
	}
	sort.Strings(out[1:])
	return out
}

func (a *AgentBinaries) dir() string {
	if a.Dir != "" {
		return a.Dir
	}
	if d := os.Getenv("CHOPPLAN_AGENT_DIR"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// hashBinary hashes the binary at path. Hashing an 18 MB executable costs
// 20-30 ms, paid by every run that ships it, so the sum is kept in the
// user's cache directory under a key made of the path, size, modification
// time and Go build ID: any change to the file changes the key.
func hashBinary(path string) (*AgentBinary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tunnel: agent binary: %w", err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tunnel: agent binary: %w", err)
	}
	cacheFile := ""
	if dir, err := os.UserCacheDir(); err == nil {
		key := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00%s", path, before.Size(), before.ModTime().UnixNano(), agent.BuildID(path))))
		cacheFile = filepath.Join(dir, "chopplan", "sums", hex.EncodeToString(key[:16]))
		if sum, err := os.ReadFile(cacheFile); err == nil && len(sum) == 64 {
			return &AgentBinary{Path: path, SHA256: string(sum), Size: before.Size(), modTime: before.ModTime()}, nil
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("tunnel: hashing agent binary %s: %w", path, err)
	}
	after, err := f.Stat()
	if err != nil || n != before.Size() || after.Size() != n || !after.ModTime().Equal(before.ModTime()) {
		return nil, fmt.Errorf("tunnel: agent binary %s changed while it was hashed: start again once it is built", path)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if cacheFile != "" {
		_ = atomicfile.WriteFile(cacheFile, []byte(sum), 0o600)
	}
	return &AgentBinary{Path: path, SHA256: sum, Size: n, modTime: before.ModTime()}, nil
}
