package tunnel_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func factsUser(t *testing.T, tun *tunnel.Tunnel) string {
	t.Helper()
	v, err := tun.Call(context.Background(), "facts", nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.GetAttr("user").AsString()
}

func TestSSHSudoNopasswd(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	testenv.SudoRule(t, s.User(), true)
	cfg := sshConfigFor(s)
	cfg.Sudo = true
	if u := factsUser(t, newSSH(t, cfg, nil)); u != "root" {
		t.Fatalf("agent through sudo runs as %q", u)
	}
}

func TestSSHSudoPassword(t *testing.T) {
	t.Parallel()
	user, password := testenv.PasswordUser(t)
	// With sudo's default of keeping credentials, which it keys on the
	// process that ran sudo when there is no terminal.
	testenv.SudoRuleCaching(t, user)
	s := testenv.StartSSHD(t, testenv.SSHDOptions{User: user})
	cfg := sshConfigFor(s)
	cfg.Sudo = true

	// No password given: refused before anything runs, saying what to do.
	err := ping(t, newSSH(t, cfg, nil))
	var se *tunnel.AgentStartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "sudo_password") {
		t.Fatalf("sudo without a password: %v", err)
	}
	t.Log(err)

	// A wrong password: one failed try, not sudo's three (the script's
	// lines read as the other two), which a lockout policy would count.
	cfg.SudoPassword = "not-" + password
	out := &tunneltest.SyncBuffer{}
	err = ping(t, newSSH(t, cfg, out))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "refused the password") {
		t.Fatalf("sudo with a wrong password: %v", err)
	}
	if !strings.Contains(out.String(), "1 incorrect password attempt") {
		t.Fatalf("sudo's own account of the wrong password: %q", out.String())
	}
	t.Log(err)

	cfg.SudoPassword = password
	if u := factsUser(t, newSSH(t, cfg, nil)); u != "root" {
		t.Fatalf("agent through sudo -S runs as %q", u)
	}

	// A rule that lets sh, but not true, run without a password: sudo
	// runs sh without reading it, and the password, left on stdin, is
	// neither run nor shown.
	testenv.SudoNopasswdCommands(t, user, "/bin/sh", "/usr/bin/sh")
	out = &tunneltest.SyncBuffer{}
	if u := factsUser(t, newSSH(t, cfg, out)); u != "root" {
		t.Fatalf("agent through a sudo that runs sh without a password runs as %q", u)
	}
	if strings.Contains(out.String(), password) {
		t.Fatalf("the password was shown: %q", out.String())
	}
}

// A password given for a host whose sudo needs none is not sent: the
// connect goes on as without one.
func TestSSHSudoPasswordGivenWithNopasswdRule(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	testenv.SudoRule(t, s.User(), true)
	cfg := sshConfigFor(s)
	cfg.Sudo = true
	cfg.SudoPassword = "unneeded"
	if u := factsUser(t, newSSH(t, cfg, nil)); u != "root" {
		t.Fatalf("agent through sudo runs as %q", u)
	}
}
