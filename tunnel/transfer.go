package tunnel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/internal/atomicfile"
	"github.com/chopplan/chopplan/internal/chunk"
	"github.com/chopplan/chopplan/internal/hashpipe"
)

// PutOptions tune a Put.
type PutOptions struct {
	// Mode is the permission bits of the remote file. Zero keeps an
	// existing file's mode, or uses 0644 for a new one (as Chopsticks does).
	Mode fs.FileMode
	// Owner and Group, when set, are applied to the remote file.
	Owner, Group string
	// Check reports whether the put would change anything, changing nothing.
	Check bool
	// Progress, when set, is told how many bytes have been sent, of how
	// many, as the content goes (every chunk; it must return quickly).
	Progress func(done, total int64)
}

// PutResult describes a put file.
type PutResult struct {
	RemotePath string
	Size       int64
	SHA256     string
	// Changed is false when the remote file already had this content,
	// mode and owner: then nothing was sent.
	Changed bool
}

// FetchResult describes a fetched file.
type FetchResult struct {
	LocalPath  string
	RemotePath string
	Size       int64
	SHA256     string
}

// Put copies the local file to remotePath on the target, or to a new temp
// file there when remotePath is empty. The content is streamed, never held
// whole in memory, verified by sha256 end to end, and installed atomically:
// a reader on the target sees the old file or the new one. An identical
// file (same sha256, mode and owner) is left alone and not sent.
func (t *Tunnel) Put(ctx context.Context, localPath, remotePath string, opts *PutOptions) (PutResult, error) {
	if opts == nil {
		opts = &PutOptions{}
	}
	f, err := os.Open(localPath)
	if err != nil {
		return PutResult{}, fmt.Errorf("tunnel: put to %s: %w", t.Name(), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return PutResult{}, err
	}
	if !fi.Mode().IsRegular() {
		return PutResult{}, fmt.Errorf("tunnel: put to %s: %s is not a regular file", t.Name(), localPath)
	}
	size := fi.Size()
	args := map[string]any{"size": size}
	if remotePath != "" {
		args["dest"] = remotePath
	}
	if opts.Mode != 0 {
		args["mode"] = int64(opts.Mode.Perm())
	}
	if opts.Owner != "" {
		args["owner"] = opts.Owner
	}
	if opts.Group != "" {
		args["group"] = opts.Group
	}

	if remotePath != "" {
		same, attrsSame, sum, err := t.compare(ctx, f, size, remotePath, opts)
		if err != nil {
			return PutResult{}, err
		}
		if same {
			res := PutResult{RemotePath: remotePath, Size: size, SHA256: sum, Changed: !attrsSame}
			if attrsSame || opts.Check {
				return res, nil
			}
			args["attrs_only"] = true
			if _, err := t.CallWith(ctx, "put", args, nil); err != nil {
				return PutResult{}, err
			}
			return res, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return PutResult{}, err
		}
	}
	if opts.Check {
		return PutResult{RemotePath: remotePath, Size: size, Changed: true}, nil
	}
	// A source whose sha256 is remembered (an earlier put of the same
	// file) is not hashed again as it is sent: the target checks what it
	// receives against the remembered sum, which a change to the file
	// since would fail. Should a remembered sum be wrong (a file system
	// whose timestamps missed a rewrite), it is forgotten and the put
	// made again, hashing as it sends.
	body := &putBody{f: f, size: size, progress: opts.Progress}
	if known, err := hex.DecodeString(rememberedSum(fi, plainSum)); err == nil && len(known) == sha256.Size {
		body.known = known
	}
	v, err := t.CallWith(ctx, "put", args, &agent.CallOptions{In: body})
	var remote *agent.RemoteError
	if body.known != nil && errors.As(err, &remote) && remote.Kind == agent.KindMismatch {
		forgetSums(fi)
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return PutResult{}, serr
		}
		body = &putBody{f: f, size: size, progress: opts.Progress}
		v, err = t.CallWith(ctx, "put", args, &agent.CallOptions{In: body})
	}
	if err != nil {
		return PutResult{}, err
	}
	res := PutResult{RemotePath: attrString(v, "path"), Size: size, SHA256: hex.EncodeToString(body.sum), Changed: true}
	if got := attrString(v, "sha256"); got != res.SHA256 {
		return PutResult{}, fmt.Errorf("tunnel: put to %s:%s: the target reports sha256 %q, expected %s", t.Name(), res.RemotePath, got, res.SHA256)
	}
	rememberSum(fi, plainSum, res.SHA256)
	return res, nil
}

// compare tells whether the remote file already has f's content (hashing
// both ends at once, and only when the sizes match) and attributes.
func (t *Tunnel) compare(ctx context.Context, f *os.File, size int64, remotePath string, opts *PutOptions) (same, attrsSame bool, sum string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fi, err := f.Stat()
	if err != nil {
		return false, false, "", err
	}
	local := make(chan string, 1)
	// Both ends work out the file's tree digest, whose blocks hash in
	// parallel: this end while the target hashes its copy, if it is not
	// remembered already (PrehashLocal, an earlier run).
	go func() { local <- localSum(ctx, f, fi, treeSum) }()
	st, err := t.CallWith(ctx, "stat", map[string]any{"path": remotePath, "digest_if_size": size}, nil)
	if err != nil {
		return false, false, "", err
	}
	remote := attrString(st, "digest")
	if !attrBool(st, "exists") || attrString(st, "type") != "file" || remote == "" {
		return false, false, "", nil
	}
	if digest := <-local; digest != remote {
		return false, false, "", nil
	}
	// The same content: report its sha256, remembered once worked out.
	if sum = localSum(ctx, f, fi, plainSum); sum == "" {
		return false, false, "", ctx.Err()
	}
	attrsSame = (opts.Mode == 0 || attrInt(st, "mode") == int64(opts.Mode.Perm())) &&
		(opts.Owner == "" || opts.Owner == attrString(st, "owner") || opts.Owner == fmt.Sprint(attrInt(st, "uid"))) &&
		(opts.Group == "" || opts.Group == attrString(st, "group") || opts.Group == fmt.Sprint(attrInt(st, "gid")))
	return true, attrsSame, sum, nil
}

// putBody is the put builtin's stream: the file's content, then its
// sha256, so the target verifies before it installs. It hashes on the
// side while it sends.
type putBody struct {
	f        io.Reader
	size     int64
	progress func(done, total int64)
	known    []byte // the content's sha256, when known before it is read
	sum      []byte
}

func (b *putBody) Read([]byte) (int, error) {
	return 0, errors.New("tunnel: putBody is read with WriteTo")
}

// WriteTo sends the content in pooled chunks (which the Hasher holds
// until it is done with them), then the trailer.
func (b *putBody) WriteTo(w io.Writer) (int64, error) {
	var h *hashpipe.Hasher
	if b.known == nil {
		h = hashpipe.New()
	}
	var n int64
	err := hashpipe.Chunks(b.f, func(c *chunk.Chunk) error {
		if h != nil {
			h.Write(c, c.B)
		}
		k, err := chunk.Write(w, c) // the stream may send the chunk's own pages
		n += int64(k)
		if b.progress != nil {
			b.progress(n, b.size)
		}
		return err
	})
	if h == nil {
		b.sum = b.known
	} else if err != nil {
		h.Abandon()
	} else {
		b.sum = h.Sum()
	}
	if err != nil {
		return n, err
	}
	k, err := w.Write(b.sum)
	return n + int64(k), err
}

// Fetch copies remotePath from the target to localPath, or to a new temp
// file when localPath is empty. The content is streamed, verified by
// sha256, and installed atomically.
func (t *Tunnel) Fetch(ctx context.Context, remotePath, localPath string) (_ FetchResult, err error) {
	if localPath == "" {
		tmp, terr := os.CreateTemp("", "chopplan-fetch-*")
		if terr != nil {
			return FetchResult{}, terr
		}
		localPath = tmp.Name()
		tmp.Close()
		defer func() {
			if err != nil { // Fetch's own error
				os.Remove(localPath) // the name made for it, unused
			}
		}()
	}
	abs, err := filepath.Abs(localPath)
	if err != nil {
		return FetchResult{}, err
	}
	f, err := atomicfile.Create(abs, 0o644&^atomicfile.Umask())
	if err != nil {
		return FetchResult{}, fmt.Errorf("tunnel: fetch from %s: %w", t.Name(), err)
	}
	defer f.Abort()
	sink := &fetchSink{f: f, h: hashpipe.New()}
	v, err := t.CallWith(ctx, "fetch", map[string]any{"src": remotePath}, &agent.CallOptions{Out: sink})
	sum, size := sink.end()
	if err != nil {
		return FetchResult{}, err
	}
	// The size is what came, not what the target says of it.
	res := FetchResult{LocalPath: abs, RemotePath: attrString(v, "path"), Size: size, SHA256: hex.EncodeToString(sum)}
	if got := attrString(v, "sha256"); got != res.SHA256 {
		return FetchResult{}, fmt.Errorf("tunnel: fetch %s:%s: content corrupted in transit (received sha256 %s, the target sent %q)", t.Name(), res.RemotePath, res.SHA256, got)
	}
	if mode := attrInt(v, "mode"); mode > 0 {
		// The target's mode, less this user's umask: a file it calls
		// world-writable is not made so here.
		f.Chmod(fs.FileMode(mode).Perm() &^ atomicfile.Umask())
	}
	if err := f.Commit(); err != nil {
		return FetchResult{}, fmt.Errorf("tunnel: fetch from %s: %w", t.Name(), err)
	}
	return res, nil
}

// fetchSink writes a fetched stream to f and hashes it alongside. The
// stream hands it whole chunks, which the Hasher may keep. A call ended
// by its context returns before the stream's writer stops: end stops it
// first, so no chunk reaches the file or the hasher after.
type fetchSink struct {
	mu    sync.Mutex
	ended bool
	n     int64
	f     io.Writer
	h     *hashpipe.Hasher
}

var errFetchEnded = errors.New("the fetch has ended")

func (s *fetchSink) WriteChunk(c *chunk.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errFetchEnded
	}
	n, err := s.f.Write(c.B)
	s.n += int64(n)
	s.h.Write(c, c.B[:n])
	return err
}

// end stops the sink and returns the sha256 and size of what it wrote.
func (s *fetchSink) end() ([]byte, int64) {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	return s.h.Sum(), s.n
}

func (s *fetchSink) Write(p []byte) (int, error) { return chunk.WriteBytes(s, p) }

// Readers of result attributes that drop agent.Attr*'s ok: results are
// data from the target, and a wrong one reads as empty.

func attrString(v cty.Value, name string) string { s, _ := agent.AttrString(v, name); return s }
func attrInt(v cty.Value, name string) int64     { i, _ := agent.AttrInt(v, name); return i }
func attrBool(v cty.Value, name string) bool     { b, _ := agent.AttrBool(v, name); return b }
