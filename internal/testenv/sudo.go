package testenv

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// sudoersDir is where SudoRule drops its rules; Debian's /etc/sudoers
// includes it with @includedir.
const sudoersDir = "/etc/sudoers.d"

// SudoUser returns a non-root account to be the target of `sudo -n -u
// USER` in tests run as root, which sudo allows without a password or a
// rule. It is TestUser, so that an agent started through sudo runs as the
// same account an SSH test logs in as.
func SudoUser(t testing.TB) string {
	t.Helper()
	Root(t)
	ensure(t, sudoRequirement)
	return TestUser(t)
}

// SudoRule lets user run every command as any user through sudo, without a
// password when nopasswd is set and with its own password otherwise. The
// rule is a file in /etc/sudoers.d, checked with `visudo -cf` before it is
// put in place and removed when the test ends. Credentials are never cached
// for user (timestamp_timeout=0), so one test's `sudo -S` cannot let a
// later `sudo -n` through. Rules are machine-wide: a test that proves a
// user without a rule is refused must not share that user with tests that
// add one; PasswordUser is never meant to get a NOPASSWD rule.
func SudoRule(t testing.TB, user string, nopasswd bool) {
	t.Helper()
	sudoRule(t, user, nopasswd, "0")
}

// SudoRuleCaching is SudoRule with a password and sudo's own default of
// keeping credentials (5 minutes): without a terminal, sudo keys them on
// the parent process, so only a sudo run by the same shell is let through.
func SudoRuleCaching(t testing.TB, user string) {
	t.Helper()
	sudoRule(t, user, false, "5")
}

func sudoRule(t testing.TB, user string, nopasswd bool, timestampTimeout string) {
	t.Helper()
	Root(t)
	ensure(t, sudoRequirement)
	tag := ""
	if nopasswd {
		tag = "NOPASSWD: "
	}
	rule := fmt.Sprintf("# %s\nDefaults:%s lecture=never, timestamp_timeout=%s\n%s ALL=(ALL:ALL) %sALL\n",
		t.Name(), user, timestampTimeout, user, tag)
	installSudoers(t, "chopplan-testenv-", user, rule)
	// A sudoers without @includedir would make the rule a silent no-op.
	out, err := exec.Command("sudo", "-n", "-l", "-U", user).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(ALL : ALL) "+tag+"ALL") {
		t.Fatalf("testenv: sudo rule for %s not in effect (does /etc/sudoers include %s?): %v: %s",
			user, sudoersDir, err, tail(out, 300))
	}
}

// SudoNopasswdCommands adds to user's rules that the commands run as any
// user without a password, in a file read after SudoRule's (the last rule
// that matches is sudo's), until the test ends.
func SudoNopasswdCommands(t testing.TB, user string, commands ...string) {
	t.Helper()
	Root(t)
	ensure(t, sudoRequirement)
	installSudoers(t, "zz-chopplan-testenv-", user, fmt.Sprintf("# %s\n%s ALL=(ALL:ALL) NOPASSWD: %s\n",
		t.Name(), user, strings.Join(commands, ", ")))
}

// installSudoers puts rule in a file of /etc/sudoers.d named prefix and
// a random suffix, checked by visudo first, removed when the test ends.
func installSudoers(t testing.TB, prefix, user, rule string) {
	t.Helper()
	// sudo skips files whose names contain a dot, so the temporary file is
	// inert until the rename.
	path := filepath.Join(sudoersDir, prefix+randomHex(6))
	tmp := path + ".tmp"
	if err := os.MkdirAll(sudoersDir, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.WriteFile(tmp, []byte(rule), 0o440); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer os.Remove(tmp)
	if out, err := exec.Command("visudo", "-cf", tmp).CombinedOutput(); err != nil {
		t.Fatalf("testenv: sudo rule for %s rejected by visudo: %v: %s", user, err, tail(out, 300))
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
}

// RunAs returns a command that runs argv as user, with that user's uid,
// gid and groups, in their home directory, with the environment a login
// would give (HOME, USER, LOGNAME, SHELL, PATH) and LANG=C so that what
// sudo and other tools print can be matched. It is how a test runs
// chopplan as an unprivileged user, e.g. PasswordUser to see sudo refuse.
// The program must be readable by user: see ExecutableFor.
func RunAs(t testing.TB, user string, argv ...string) *exec.Cmd {
	t.Helper()
	Root(t)
	if len(argv) == 0 {
		t.Fatal("testenv: RunAs needs a command")
	}
	a := resolveAccount(t, user)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = a.home
	cmd.Env = []string{
		"HOME=" + a.home, "USER=" + a.name, "LOGNAME=" + a.name, "SHELL=/bin/sh", "LANG=C",
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups},
	}
	return cmd
}

// ExecutableFor returns a path to the running test binary that user can
// execute. `go test` builds it in a directory only root can enter, so it
// is usually copied into a fresh 0755 directory, removed when the test
// ends. A test binary run this way can act as chopplan (or its agent)
// when its TestMain looks at an environment variable first.
func ExecutableFor(t testing.TB, user string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return CopyExecutableFor(t, user, self)
}

// CopyExecutableFor returns path itself when user can already execute it
// and otherwise a copy, mode 0755 in a 0755 directory, that they can.
func CopyExecutableFor(t testing.TB, user, path string) string {
	t.Helper()
	a := resolveAccount(t, user)
	if canExecute(path, a) {
		return path
	}
	dst := filepath.Join(publicTempDir(t, "chopplan-exe-"), filepath.Base(path))
	if err := copyFile(dst, path, 0o755); err != nil {
		t.Fatalf("testenv: copy %s for %s: %v", path, user, err)
	}
	if !canExecute(dst, a) {
		t.Fatalf("testenv: %s is still not executable by %s", dst, user)
	}
	return dst
}

// canExecute reports whether a may search every directory above path and
// read and execute path, by the classic permission bits (the binary is
// read too, when the agent ships itself).
func canExecute(path string, a *account) bool {
	path, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if !permits(path, a, 0o5) {
		return false
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if !permits(dir, a, 0o1) {
			return false
		}
		if dir == "/" {
			return true
		}
	}
}

// permits reports whether a has every bit of want (r=4, w=2, x=1) on path.
func permits(path string, a *account, want os.FileMode) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := fi.Mode().Perm()
	switch {
	case a.uid == 0:
		return want&0o1 == 0 || mode&0o111 != 0
	case st.Uid == a.uid:
		return (mode>>6)&want == want
	case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
		return (mode>>3)&want == want
	}
	return mode&want == want
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode) // the umask may have narrowed it
}
