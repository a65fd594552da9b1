package builtins

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chopplan/chopplan/internal/atomicfile"
)

// fileWant is what file (state = file or touch), template and line want of
// a regular file.
type fileWant struct {
	content []byte // the whole content, when manage is set
	manage  bool   // false leaves the content of an existing file alone
	create  bool   // a missing file is created (with content, or empty)
	attrs   attrs
	backup  bool // keep the replaced content as path.<timestamp>~
}

// resolveLink follows path when it is a symbolic link, so that a managed
// file reached through a link is written where the link points and the
// link itself stays. It returns the path to work on and its Lstat.
func resolveLink(path string) (string, fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, fi, err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		target, _ := os.Readlink(path)
		return "", nil, fmt.Errorf("%s is a link to %s, which cannot be followed: %w", path, target, err)
	}
	fi, err = os.Lstat(real)
	return real, fi, err
}

// ensureFile makes path a regular file as w says, recording in c what
// changes. In check mode it only records. It returns the backup it made.
func ensureFile(check bool, path string, w fileWant, c *change) (backup string, err error) {
	path, fi, err := resolveLink(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return "", err
	}
	if missing {
		if !w.create {
			return "", fmt.Errorf("%s does not exist; give content to create it, or use state = \"touch\"", path)
		}
		w.attrs.created(c, "file", 0o644)
		c.content = contentDiff(path, nil, false, w.content, true)
		if check {
			return "", nil
		}
		mode := w.attrs.mode
		if mode < 0 {
			mode = 0o644
		}
		return "", writeAtomic(path, w.content, mode, w.attrs.uid, w.attrs.gid)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is a %s, not a regular file", path, fileType(fi.Mode()))
	}
	mode, uid, gid := w.attrs.compare(fi, c)
	rewrite := false
	if w.manage {
		var old []byte
		if rewrite, old, err = differs(path, fi.Size(), w.content); err != nil {
			return "", err
		}
		if rewrite {
			if old == nil {
				c.content = largeDiff(path, path, fi.Size(), int64(len(w.content)))
			} else {
				c.content = contentDiff(path, old, true, w.content, true)
			}
		}
	}
	if check || !c.changed() {
		return "", nil
	}
	if !rewrite {
		return "", setAttrs(path, fs.FileMode(mode), uid, gid)
	}
	if w.backup {
		backup = fmt.Sprintf("%s.%s~", path, time.Now().Format("2006-01-02@15:04:05.000000"))
		// A hard link keeps the old inode, with its mode and owner, under
		// the backup name; the rename below then replaces only the name.
		if err := os.Link(path, backup); err != nil {
			return "", fmt.Errorf("backup of %s: %w", path, err)
		}
	}
	// The new inode keeps the old file's owner unless one is given.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid < 0 {
			uid = int(st.Uid)
		}
		if gid < 0 {
			gid = int(st.Gid)
		}
	}
	return backup, writeAtomic(path, w.content, mode, uid, gid)
}

// differs reports whether the file at path (of size size) has content
// other than want. It returns the old content when it read it whole: when
// it is small enough to diff, or the same size as want.
func differs(path string, size int64, want []byte) (bool, []byte, error) {
	if size != int64(len(want)) && size > maxDiffSize {
		return true, nil, nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return false, nil, err
	}
	if !bytes.Equal(old, want) {
		if len(old) > maxDiffSize {
			return true, nil, nil
		}
		return true, old, nil
	}
	return false, old, nil
}

// readText reads the file a builtin edits (line), following a link: the
// path it reads, the content, and whether the file exists.
func readText(path string) (string, []byte, bool, error) {
	path, fi, err := resolveLink(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, false, fmt.Errorf("%s is a %s, not a regular file", path, fileType(fi.Mode()))
	}
	b, err := os.ReadFile(path)
	return path, b, err == nil, err
}

// writeAtomic replaces path with content. Mode and ownership are set on
// the open temp file before it gets its name, so no one ever sees the new
// content with the wrong permissions; uid and gid of -1 keep the ones the
// new file was created with.
func writeAtomic(path string, content []byte, mode int64, uid, gid int) error {
	f, err := atomicfile.Create(path, fs.FileMode(mode).Perm())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot create %s: its directory %s does not exist", path, filepath.Dir(path))
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Abort()
	if _, err := f.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Chown only the ids that differ from those the new file got: an
	// unprivileged agent may not name a group it is not in, even to keep it.
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if uid == int(st.Uid) {
				uid = -1
			}
			if gid == int(st.Gid) {
				gid = -1
			}
		}
	}
	if err := setFileAttrs(f.File, fs.FileMode(mode), uid, gid); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
