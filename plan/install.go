package plan

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// InstallOptions controls InstallModules.
type InstallOptions struct {
	// Upgrade fetches every git module's ref again and pins what it points
	// to now; without it a locked module is fetched at its locked commit.
	Upgrade bool
	// ModulesDir and LockFile default as in LoadOptions.
	ModulesDir, LockFile string
	// Log receives one line per module fetched; nil discards them.
	Log io.Writer
}

// InstallModules fetches the git modules the plan at path calls (nested
// ones too) into the modules directory with the git command, and writes
// the lock file pinning each source's commit and content hash. It reads
// the plan's structure only: variables need no values.
func InstallModules(path string, opts InstallOptions) (*LockFile, hcl.Diagnostics) {
	l := newLoader(LoadOptions{ModulesDir: opts.ModulesDir, LockFile: opts.LockFile})
	l.install = &installer{upgrade: opts.Upgrade, log: opts.Log, done: map[string]bool{}}
	if l.install.log == nil {
		l.install.log = io.Discard
	}
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	if l.opts.ModulesDir == "" {
		l.opts.ModulesDir = filepath.Join(dir, ".chopplan", "modules")
	}
	if l.opts.LockFile == "" {
		l.opts.LockFile = filepath.Join(dir, LockFileName)
	}
	lock, diags := l.readLock()
	l.lock = lock
	if diags.HasErrors() {
		return lock, diags
	}
	var files []*hcl.File
	var d hcl.Diagnostics
	if dir == path {
		files, d = l.parseDir(dir)
	} else {
		var f *hcl.File
		f, d = l.parseFile(path)
		if f != nil {
			files = append(files, f)
		}
	}
	diags = append(diags, d...)
	_, d = l.decodeModule("", dir, files, nil, 0)
	for _, dg := range d {
		// Only what stops fetching matters here; validate reports the rest.
		if dg.Severity == hcl.DiagError && (strings.HasPrefix(dg.Summary, "Module") || dg.Summary == "Invalid module source") {
			diags = append(diags, dg)
		}
	}
	if diags.HasErrors() {
		return lock, diags
	}
	// Drop entries of sources the plan no longer calls.
	for s := range lock.Modules {
		if !l.install.done[s] {
			delete(lock.Modules, s)
		}
	}
	if err := writeFileAtomic(l.opts.LockFile, lock.Bytes()); err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Cannot write lock file",
			Detail: fmt.Sprintf("The lock file %s cannot be written: %s.", l.opts.LockFile, err),
		})
	}
	return lock, diags
}

// writeFileAtomic writes through a temp file and a rename, so a reader
// sees the old lock or the new one. (plan imports none of chopplan's other
// packages, so this is not internal/atomicfile.)
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// installer fetches git modules during InstallModules.
type installer struct {
	upgrade bool
	log     io.Writer
	done    map[string]bool // sources handled in this run
}

func (i *installer) fetch(l *loader, call *moduleCall, dir string) hcl.Diagnostics {
	if i.done[call.source] {
		return nil
	}
	i.done[call.source] = true
	src, _ := ParseModuleSource(call.source)
	locked, isLocked := l.lock.Modules[call.source]
	if isLocked && !i.upgrade {
		if sum, err := HashDir(dir); err == nil && sum == locked.Hash {
			fmt.Fprintf(i.log, "- %s: %s at %s (installed)\n", call.name, call.source, shortCommit(locked.Commit))
			return nil
		}
	}
	want := src.Ref
	if isLocked && !i.upgrade {
		want = locked.Commit
	}
	fail := func(err error) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Module fetch failed",
			Detail:   fmt.Sprintf("The module %q cannot be fetched from %s at %s: %s", call.name, src.URL, want, err),
			Subject:  call.sourceRange.Ptr(),
		}}
	}
	if err := os.MkdirAll(l.opts.ModulesDir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(l.opts.ModulesDir, ".fetch-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	if _, err := git("", "clone", "--quiet", "--no-checkout", "--", src.URL, tmp); err != nil {
		return fail(err)
	}
	if _, err := git(tmp, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", want, "--"); err != nil {
		// A branch other than the default exists only as origin/NAME.
		if _, err2 := git(tmp, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", "origin/"+want, "--"); err2 != nil {
			return fail(err)
		}
	}
	commit, err := git(tmp, "rev-parse", "HEAD")
	if err != nil {
		return fail(err)
	}
	if err := os.RemoveAll(filepath.Join(tmp, ".git")); err != nil {
		return fail(err)
	}
	if src.Subdir != "" {
		if fi, err := os.Stat(filepath.Join(tmp, filepath.FromSlash(src.Subdir))); err != nil || !fi.IsDir() {
			return fail(fmt.Errorf("the repository has no directory %q", src.Subdir))
		}
	}
	sum, err := HashDir(tmp)
	if err != nil {
		return fail(err)
	}
	if isLocked && !i.upgrade && sum != locked.Hash {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Module content does not match the lock",
			Detail: fmt.Sprintf("The module %q at the locked commit %s hashes to %s, but the lock file pins %s. Run `chopplan init -upgrade` if the new content is trusted.",
				call.name, locked.Commit, sum, locked.Hash),
			Subject: call.sourceRange.Ptr(),
		}}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	l.lock.Modules[call.source] = LockedModule{Source: call.source, Commit: commit, Hash: sum}
	fmt.Fprintf(i.log, "- %s: %s at %s\n", call.name, call.source, shortCommit(commit))
	return nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// git runs the git command; nothing it runs may wait for a password.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "GCM_INTERACTIVE=never")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return strings.TrimSpace(out.String()), nil
}
