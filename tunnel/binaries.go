package tunnel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

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

	data []byte // the bytes, when this process made them
	path string // else the file they are read from as they are sent
}

// WriteTo sends the upload's bytes to w.
func (u *AgentUpload) WriteTo(w io.Writer) (int64, error) {
	if u.path == "" {
		n, err := w.Write(u.data)
		return int64(n), err
	}
	f, err := os.Open(u.path)
	if err != nil {
		return 0, fmt.Errorf("tunnel: agent upload: %w", err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(w, io.LimitReader(f, u.Size), make([]byte, 64<<10))
	if err == nil && n != u.Size {
		err = fmt.Errorf("tunnel: agent upload %s changed while it was sent: %d of %d bytes", u.path, n, u.Size)
	}
	return n, err
}

// Upload returns the binary in enc, "zst" (zstd) or "gz" (gzip), made once
// per process and kept in the user's cache directory so later runs skip
// the work (any other enc is the binary as it is).
func (b *AgentBinary) Upload(enc string) (*AgentUpload, error) {
	if enc != "zst" && enc != "gz" {
		return &AgentUpload{Size: b.Size, SHA256: b.SHA256, path: b.Path}, nil
	}
	v, _ := b.compressed.LoadOrStore(enc, &compressedAgent{})
	c := v.(*compressedAgent)
	c.once.Do(func() { c.up, c.err = b.compress(enc) })
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
// A later run sends the cached copy, read from the file as it goes, with
// the recorded sha256 while size and time still match, and hashes it
// again first otherwise: reading and hashing the 5.8 MB copy before
// sending it cost a first connect 8 ms while the target waited. A copy
// damaged in place since, size and time kept, fails the target's checks;
// the controller then drops it (forgetUpload), so the next run makes it
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
		return nil, fmt.Errorf("tunnel: agent binary %s changed since it was hashed (sha256 %s, then %s): was it rebuilt? Start again", b.Path, got, b.SHA256)
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

// forgetUpload drops the enc form of the binary, which a target refused:
// the cached copy and the one this process holds.
func (b *AgentBinary) forgetUpload(enc string) {
	if cache := b.uploadCache(enc); cache != "" {
		os.Remove(cache + ".seen")
		os.Remove(cache + ".sha256")
		os.Remove(cache)
	}
	b.compressed.Delete(enc)
}

// cachedUpload returns the upload cached at path, with the sha256 recorded
// beside it: at once while the file's size and modification time are the
// ones seen when that sha256 was last checked, else once the file is
// hashed again and found to match.
func cachedUpload(path string) (*AgentUpload, bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil, false
	}
	recorded, err := os.ReadFile(path + ".sha256")
	sum := strings.TrimSpace(string(recorded))
	if err != nil || len(sum) != 64 {
		return nil, false
	}
	up := &AgentUpload{Size: fi.Size(), SHA256: sum, path: path}
	if seen, err := os.ReadFile(path + ".seen"); err == nil && string(seen) == seenRecord(fi) {
		return up, true
	}
	data, err := os.ReadFile(path)
	if err != nil || hexSHA256(data) != sum {
		return nil, false
	}
	up.Size, up.path, up.data = int64(len(data)), "", data
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
	cacheFile := ""
	if fi, err := f.Stat(); err == nil {
		if dir, err := os.UserCacheDir(); err == nil {
			key := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00%s", path, fi.Size(), fi.ModTime().UnixNano(), agent.BuildID(path))))
			cacheFile = filepath.Join(dir, "chopplan", "sums", hex.EncodeToString(key[:16]))
			if sum, err := os.ReadFile(cacheFile); err == nil && len(sum) == 64 {
				return &AgentBinary{Path: path, SHA256: string(sum), Size: fi.Size()}, nil
			}
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("tunnel: hashing agent binary %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if cacheFile != "" {
		_ = atomicfile.WriteFile(cacheFile, []byte(sum), 0o600)
	}
	return &AgentBinary{Path: path, SHA256: sum, Size: n}, nil
}
