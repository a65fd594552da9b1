package builtins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/internal/atomicfile"
	"github.com/chopplan/chopplan/internal/chunk"
	"github.com/chopplan/chopplan/internal/hashpipe"
)

// StatType is the shape of the stat builtin's result.
var StatType = cty.Object(map[string]cty.Type{
	"path": cty.String, "exists": cty.Bool, "type": cty.String, "size": cty.Number, "mode": cty.Number,
	"uid": cty.Number, "gid": cty.Number, "owner": cty.String, "group": cty.String,
	"mtime": cty.Number, "sha256": cty.String, "link_target": cty.String, "digest": cty.String,
})

// TransferType is the shape of put's and fetch's results.
var TransferType = cty.Object(map[string]cty.Type{
	"path": cty.String, "size": cty.Number, "sha256": cty.String, "mode": cty.Number, "changed": cty.Bool,
})

// WalkType is the shape of one entry of the walk builtin's result.
var WalkType = cty.Object(map[string]cty.Type{
	"path": cty.String, "type": cty.String, "mode": cty.Number, "size": cty.Number, "link_target": cty.String,
})

func init() {
	MustRegister(Spec{
		Name: "stat",
		Doc:  "Describes a path: existence, type, size, mode, owner, mtime, and with checksum = true the sha256 of a regular file.",
		Args: []Arg{
			{Name: "path", Type: cty.String, Required: true},
			{Name: "checksum", Type: cty.Bool, Default: cty.False, Doc: "compute the sha256 of a regular file"},
			{Name: "checksum_if_size", Type: cty.Number, Doc: "compute the sha256 only when the file has this size (saves hashing a file that differs anyway)"},
			{Name: "digest_if_size", Type: cty.Number, Doc: "compute the tree digest (for comparing content; its blocks hash in parallel) only when the file has this size"},
		},
		Result: StatType, CheckMode: true, Idempotent: true,
		Run: func(cc agent.CallContext, args cty.Value) (cty.Value, error) {
			path := argString(args, "path")
			sum := argBool(args, "checksum")
			if n, ok := argInt(args, "checksum_if_size"); ok {
				sum = sum || sizeIs(path, n)
			}
			var digest bool
			if n, ok := argInt(args, "digest_if_size"); ok {
				digest = sizeIs(path, n)
			}
			return stat(cc.Context(), path, sum, digest)
		},
	})
	MustRegister(Spec{
		Name: "put",
		Doc:  "Receives a file's content on the call's data stream (size bytes, then their sha256) and installs it atomically; with no dest, in a new temp file.",
		Args: []Arg{
			{Name: "dest", Type: cty.String, Doc: "the path to write; null for a new temp file"},
			{Name: "size", Type: cty.Number, Required: true},
			{Name: "mode", Type: cty.Number, Doc: "permission bits; null keeps an existing file's, else 0644"},
			{Name: "owner", Type: cty.String},
			{Name: "group", Type: cty.String},
			{Name: "attrs_only", Type: cty.Bool, Default: cty.False, Doc: "the content is already right: set mode and owner only"},
		},
		Result: TransferType, CheckMode: true, Idempotent: true,
		Run: put,
	})
	MustRegister(Spec{
		Name:   "fetch",
		Doc:    "Sends a file's content on the call's data stream and returns its size and sha256.",
		Args:   []Arg{{Name: "src", Type: cty.String, Required: true}},
		Result: TransferType, CheckMode: true, Idempotent: true,
		Run: fetch,
	})
	MustRegister(Spec{
		Name:   "walk",
		Doc:    "Lists a directory tree: every entry's path relative to root, type, mode, size and link target, parents before children.",
		Args:   []Arg{{Name: "root", Type: cty.String, Required: true}},
		Result: cty.List(WalkType), CheckMode: true, Idempotent: true,
		Run: walk,
	})
}

// Stat describes path; a missing path is a result with exists = false.
func Stat(path string, checksum bool) (cty.Value, error) {
	return stat(context.Background(), path, checksum, false)
}

func stat(ctx context.Context, path string, checksum, digest bool) (cty.Value, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return cty.NilVal, err
	}
	fi, err := os.Lstat(abs)
	res := map[string]cty.Value{
		"path": cty.StringVal(abs), "exists": cty.False, "type": cty.StringVal(""), "size": cty.Zero, "mode": cty.Zero,
		"uid": cty.Zero, "gid": cty.Zero, "owner": cty.StringVal(""), "group": cty.StringVal(""),
		"mtime": cty.Zero, "sha256": cty.StringVal(""), "link_target": cty.StringVal(""), "digest": cty.StringVal(""),
	}
	if errors.Is(err, fs.ErrNotExist) {
		return cty.ObjectVal(res), nil
	}
	if err != nil {
		return cty.NilVal, err
	}
	res["exists"] = cty.True
	res["type"] = cty.StringVal(fileType(fi.Mode()))
	res["size"] = intVal(fi.Size())
	res["mode"] = intVal(int64(unixMode(fi.Mode())))
	res["mtime"] = cty.NumberFloatVal(float64(fi.ModTime().UnixNano()) / 1e9)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		res["uid"], res["gid"] = intVal(int64(st.Uid)), intVal(int64(st.Gid))
		res["owner"], res["group"] = cty.StringVal(userName(st.Uid)), cty.StringVal(groupName(st.Gid))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		t, _ := os.Readlink(abs)
		res["link_target"] = cty.StringVal(t)
	}
	if checksum && fi.Mode().IsRegular() {
		sum, err := hashFile(abs)
		if err != nil {
			return cty.NilVal, err
		}
		res["sha256"] = cty.StringVal(sum)
	}
	if digest && fi.Mode().IsRegular() {
		d, err := digestFile(ctx, abs)
		if err != nil {
			return cty.NilVal, err
		}
		res["digest"] = cty.StringVal(d)
	}
	return cty.ObjectVal(res), nil
}

// digestFile is the tree digest of the file at path (hashpipe.Tree).
func digestFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	d, err := hashpipe.Tree(ctx, f, fi.Size())
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(d), nil
}

func sizeIs(path string, n int64) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == n
}

// unixMode returns the permission, setuid, setgid and sticky bits as the
// kernel numbers them (04000, 02000, 01000).
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "link"
	}
	return "other"
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// Large reads: a 32 KiB buffer made a 100 MiB file 3,200 system calls.
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lookupOwner resolves owner and group names (or numbers) to ids; -1 keeps.
func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, lerr := user.Lookup(owner)
			if lerr != nil {
				return 0, 0, fmt.Errorf("no such user %q", owner)
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return 0, 0, fmt.Errorf("no such group %q", group)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
}

func put(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	dest := argString(args, "dest")
	size, _ := argInt(args, "size")
	uid, gid, err := lookupOwner(argString(args, "owner"), argString(args, "group"))
	if err != nil {
		return cty.NilVal, err
	}
	mode, modeGiven := argInt(args, "mode")
	if !modeGiven {
		mode = 0o644
		if fi, err := os.Stat(dest); err == nil && dest != "" {
			mode = int64(unixMode(fi.Mode()))
		}
	}
	if argBool(args, "attrs_only") {
		if cc.Check() {
			return transferResult(dest, size, "", mode, true), nil
		}
		if err := setAttrs(dest, fs.FileMode(mode), uid, gid); err != nil {
			return cty.NilVal, err
		}
		return transferResult(dest, size, "", mode, true), nil
	}
	if cc.Check() {
		return transferResult(dest, size, "", mode, true), nil // no dest: no temp file made either
	}
	var f *atomicfile.File
	placeholder := "" // a new temp file's name, reserved here: removed unless the put succeeds
	if dest == "" {
		tmp, err := os.CreateTemp("", "chopplan-put-*")
		if err != nil {
			return cty.NilVal, err
		}
		dest = tmp.Name()
		tmp.Close()
		placeholder = dest
	}
	installed := false
	defer func() {
		if !installed && placeholder != "" {
			os.Remove(placeholder)
		}
	}()
	dest, err = filepath.Abs(dest)
	if err != nil {
		return cty.NilVal, err
	}
	f, err = atomicfile.Create(dest, fs.FileMode(mode).Perm())
	if err != nil {
		return cty.NilVal, fmt.Errorf("put %s: %w", dest, err)
	}
	defer f.Abort()
	sink := &putSink{f: f.File, h: hashpipe.New(), left: size}
	if _, err := io.Copy(sink, cc.Recv()); err != nil {
		sink.h.Abandon()
		return cty.NilVal, fmt.Errorf("put %s: after %d of %d bytes: %w", dest, size-sink.left, size, err)
	}
	sum := sink.h.Sum()
	switch {
	case sink.left > 0 || len(sink.trailer) != sha256.Size:
		return cty.NilVal, fmt.Errorf("put %s: the stream ended after %d of %d bytes, without its checksum; the old file is untouched", dest, size-sink.left, size)
	case !bytes.Equal(sum, sink.trailer):
		return cty.NilVal, agent.Fail(agent.KindMismatch, cty.NilVal, "put %s: content corrupted in transit (sha256 %x, sender's %x); the old file is untouched", dest, sum, sink.trailer)
	}
	if err := setFileAttrs(f.File, fs.FileMode(mode), uid, gid); err != nil {
		return cty.NilVal, err
	}
	if err := f.Commit(); err != nil {
		return cty.NilVal, fmt.Errorf("put %s: %w", dest, err)
	}
	installed = true
	return transferResult(dest, size, hex.EncodeToString(sum), mode, true), nil
}

// putSink takes a put's stream: size bytes of content, written to f and
// hashed alongside, then the sender's sha256 of them.
type putSink struct {
	f       *os.File
	h       *hashpipe.Hasher
	left    int64
	trailer []byte

	written, flushed int64 // bytes written; bytes handed to writeback
}

// writebackStep is how much a put writes before it asks the kernel to
// start writing it to disk (sync_file_range), so the fsync before the
// rename finds little left to do: syncing 100 MiB at the end cost 40-60 ms.
const writebackStep = 8 << 20

// WriteChunk receives the stream's chunks whole, so the Hasher can keep
// them without a copy.
func (s *putSink) WriteChunk(c *chunk.Chunk) error {
	p := c.B
	if s.left > 0 {
		k := int(min(int64(len(p)), s.left))
		if _, err := s.f.Write(p[:k]); err != nil {
			return err
		}
		s.h.Write(c, p[:k])
		s.left -= int64(k)
		s.written += int64(k)
		if s.written-s.flushed >= writebackStep {
			unix.SyncFileRange(int(s.f.Fd()), s.flushed, s.written-s.flushed, unix.SYNC_FILE_RANGE_WRITE)
			s.flushed = s.written
		}
		p = p[k:]
	}
	if len(s.trailer)+len(p) > sha256.Size {
		return fmt.Errorf("more data than the %d bytes announced", s.left)
	}
	s.trailer = append(s.trailer, p...)
	return nil
}

// Write is WriteChunk for a stream that hands over bytes.
func (s *putSink) Write(p []byte) (int, error) { return chunk.WriteBytes(s, p) }

// setFileAttrs is setAttrs on an open file (which may have no name yet).
func setFileAttrs(f *os.File, mode fs.FileMode, uid, gid int) error {
	if uid >= 0 || gid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	return f.Chmod(goMode(mode))
}

// setAttrs applies mode (with setuid/setgid/sticky, in unix numbering) and
// ownership (-1 keeps) to path.
func setAttrs(path string, mode fs.FileMode, uid, gid int) error {
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, goMode(mode))
}

// goMode turns unix mode bits (04000 setuid, 02000 setgid, 01000 sticky)
// into Go's FileMode.
func goMode(mode fs.FileMode) fs.FileMode {
	m := mode.Perm()
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func transferResult(path string, size int64, sum string, mode int64, changed bool) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(path), "size": intVal(size), "sha256": cty.StringVal(sum),
		"mode": intVal(mode), "changed": cty.BoolVal(changed),
	})
}

func fetch(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	src, err := filepath.Abs(argString(args, "src"))
	if err != nil {
		return cty.NilVal, err
	}
	f, err := os.Open(src)
	if err != nil {
		return cty.NilVal, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return cty.NilVal, err
	}
	if !fi.Mode().IsRegular() {
		return cty.NilVal, fmt.Errorf("fetch %s: not a regular file (%s)", src, fileType(fi.Mode()))
	}
	h := hashpipe.New()
	var n int64
	send := cc.Send()
	err = hashpipe.Chunks(f, func(c *chunk.Chunk) error {
		h.Write(c, c.B)
		n += int64(len(c.B))
		_, err := chunk.Write(send, c) // the stream may send the chunk's own pages
		return err
	})
	sum := h.Sum()
	if err != nil {
		return cty.NilVal, fmt.Errorf("fetch %s: %w", src, err)
	}
	return transferResult(src, n, hex.EncodeToString(sum), int64(unixMode(fi.Mode())), false), nil
}

func walk(_ agent.CallContext, args cty.Value) (cty.Value, error) {
	root, err := filepath.Abs(argString(args, "root"))
	if err != nil {
		return cty.NilVal, err
	}
	var entries []cty.Value
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ = os.Readlink(p)
		}
		entries = append(entries, cty.ObjectVal(map[string]cty.Value{
			"path": cty.StringVal(filepath.ToSlash(rel)), "type": cty.StringVal(fileType(fi.Mode())),
			"mode": intVal(int64(unixMode(fi.Mode()))), "size": intVal(fi.Size()), "link_target": cty.StringVal(target),
		}))
		return nil
	})
	if err != nil {
		return cty.NilVal, err
	}
	if len(entries) == 0 {
		return cty.ListValEmpty(WalkType), nil
	}
	return cty.ListVal(entries), nil
}
