package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	// TestUserName is the unprivileged account tests log in as over SSH
	// and run agents as through sudo. It is created once per machine and
	// kept: creating and deleting accounts per test would race between
	// concurrently running test packages.
	TestUserName = "chopplan-test"

	// PasswordUserName is an unprivileged account that has a password and
	// is never given a NOPASSWD sudo rule, so that tests can prove what
	// happens when sudo asks for a password.
	PasswordUserName = "chopplan-pw"
)

// passwordFile keeps PasswordUserName's random password, readable by root
// only, so every test process on the machine agrees on it without the
// password being a constant anyone could read in the source.
const passwordFile = "/var/lib/chopplan-testenv/" + PasswordUserName + ".password"

// An account is a resolved unix user.
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
	password string // only for PasswordUserName
}

var accounts sync.Map // name -> *account, once ensured in this process

// TestUser returns TestUserName, creating the account (home directory,
// shell /bin/sh, no password but not locked, so sshd without PAM lets it
// log in with a key) if the machine does not have it yet. Needs root.
func TestUser(t testing.TB) string {
	t.Helper()
	return ensureAccount(t, TestUserName).name
}

// PasswordUser returns PasswordUserName and its password, creating the
// account if needed. It has no sudo rule of its own: tests add one with
// SudoRule(t, name, false) to make sudo ask for the password. Needs root.
func PasswordUser(t testing.TB) (name, password string) {
	t.Helper()
	a := ensureAccount(t, PasswordUserName)
	return a.name, a.password
}

func ensureAccount(t testing.TB, name string) *account {
	t.Helper()
	if a, ok := accounts.Load(name); ok {
		return a.(*account)
	}
	Root(t)
	ensure(t, accountsRequirement)
	var a *account
	err := withMachineLock("users", func() error {
		created := false
		if _, err := user.Lookup(name); err != nil {
			// "*" rather than useradd's default "!": without PAM, sshd
			// refuses accounts whose password field marks them locked.
			out, err := exec.Command("useradd", "--create-home", "--home-dir", "/home/"+name,
				"--shell", "/bin/sh", "--user-group", "--password", "*", name).CombinedOutput()
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 9) { // 9: already exists
				return fmt.Errorf("useradd %s: %v: %s", name, err, tail(out, 300))
			}
			created = true
		}
		var err error
		if a, err = lookupAccount(name); err != nil {
			return err
		}
		if name == PasswordUserName {
			a.password, err = ensurePassword(name, created)
		}
		return err
	})
	if err != nil {
		t.Fatalf("testenv: test user %s: %v", name, err)
	}
	accounts.Store(name, a)
	return a
}

// ensurePassword returns name's password from passwordFile, setting a new
// random one when the file is missing or the account was just created.
// Called with the "users" machine lock held.
func ensurePassword(name string, created bool) (string, error) {
	if !created {
		if b, err := os.ReadFile(passwordFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
	}
	password := randomHex(12)
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chpasswd %s: %v: %s", name, err, tail(out, 300))
	}
	if err := os.MkdirAll(filepath.Dir(passwordFile), 0o700); err != nil {
		return "", err
	}
	tmp := passwordFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return password, os.Rename(tmp, passwordFile)
}

func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	a := &account{name: name, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: %w", name, err)
		}
		a.groups = append(a.groups, uint32(n))
	}
	return a, nil
}

// resolveAccount looks user up, creating it first when it is one of the
// accounts this package owns.
func resolveAccount(t testing.TB, user string) *account {
	t.Helper()
	switch user {
	case TestUserName, PasswordUserName:
		return ensureAccount(t, user)
	}
	a, err := lookupAccount(user)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return a
}
