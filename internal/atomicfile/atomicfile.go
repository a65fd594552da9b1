// Package atomicfile writes files so that a reader sees the old content or
// the new, never a part: data goes to a temp file in the same directory,
// is synced, and is renamed over the destination.
package atomicfile

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// File is a temp file that becomes the destination on Commit.
//
// Where the kernel and file system allow it, the temp file is anonymous
// (O_TMPFILE): it has no name until Commit, so a process killed half-way
// leaves nothing behind. Elsewhere it is a hidden file beside dest.
type File struct {
	*os.File
	dest      string
	anonymous bool // O_TMPFILE: no name yet
	done      bool
}

// Create opens a temp file beside dest, with perm exactly (a chmod: the
// umask does not apply; see Umask). Call Commit to put it in place, or
// Abort (safe after Commit) to drop it.
func Create(dest string, perm os.FileMode) (*File, error) {
	dir := filepath.Dir(dest)
	if fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(perm.Perm())); err == nil {
		f := os.NewFile(uintptr(fd), filepath.Join(dir, ".chopplan-anonymous"))
		if err := f.Chmod(perm); err != nil {
			f.Close()
			return nil, err
		}
		return &File{File: f, dest: dest, anonymous: true}, nil
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".chopplan-*")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &File{File: tmp, dest: dest}, nil
}

// Commit syncs the temp file, renames it over the destination and syncs
// the directory so the rename survives a crash.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s already committed or aborted", f.dest)
	}
	f.done = true
	if err := f.Sync(); err != nil {
		f.drop()
		return err
	}
	name := f.Name()
	if f.anonymous {
		// Give the anonymous file a name, then rename it over dest: rename
		// is what replaces dest atomically.
		var err error
		if name, err = f.link(); err != nil {
			f.File.Close()
			return fmt.Errorf("atomicfile: naming the temp file for %s: %w", f.dest, err)
		}
	}
	if err := f.File.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, f.dest); err != nil {
		os.Remove(name)
		return err
	}
	if d, err := os.Open(filepath.Dir(f.dest)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// link gives the anonymous file a fresh random name beside dest: another
// writer may be committing to the same dest at the same moment.
func (f *File) link() (string, error) {
	for range 10 {
		var rnd [8]byte
		rand.Read(rnd[:])
		name := filepath.Join(filepath.Dir(f.dest), fmt.Sprintf(".%s.chopplan-%x", filepath.Base(f.dest), rnd))
		err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
		if err == nil {
			return name, nil
		}
		if err != unix.EEXIST {
			return "", err
		}
	}
	return "", fmt.Errorf("no free temp name")
}

// Abort removes the temp file; the destination is untouched.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.drop()
}

func (f *File) drop() {
	f.File.Close()
	if !f.anonymous {
		os.Remove(f.Name())
	}
}

// WriteFile writes data to path atomically, creating parent directories
// with mode 0700 when they are missing.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write fills path atomically from fill.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// Umask is the process's file mode creation mask, read once from
// /proc/self/status (Linux 4.7 and later); 022 where it cannot be read.
// A chmod, unlike open(2), does not apply it: a caller that wants a file
// as open(2) would make it masks the mode with it.
var Umask = sync.OnceValue(func() os.FileMode {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(m)
				}
			}
		}
	}
	return 0o022
})
