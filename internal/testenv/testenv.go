// Package testenv gives integration tests the real components they run
// against (sshd, sudo, the Docker Engine, network namespaces) and decides
// what happens when one is missing: a loud skip on a developer's machine, a
// failure when CHOPPLAN_INTEGRATION=require (as CI sets it).
//
// StartSSHD runs a real OpenSSH sshd on a loopback address with keys made
// for the test; NewNetnsHost makes a host with its own address in a network
// namespace, which a test can cut off the network; TestUser, PasswordUser,
// SudoRule and RunAs give real unix accounts and sudo rules. Set-up needs
// root; missing Debian packages are installed with apt when possible (as
// scripts/install-test-deps.sh does ahead of time). Everything a test makes
// is removed when it ends, except the two accounts, which are made once per
// machine and shared by concurrently running test packages.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Required reports whether integration tests must run rather than skip.
func Required() bool { return os.Getenv("CHOPPLAN_INTEGRATION") == "require" }

// Unavailable ends an integration test whose component is missing: it
// fails when integration is required and skips with a loud reason otherwise.
func Unavailable(t testing.TB, component string, err error) {
	t.Helper()
	msg := fmt.Sprintf("INTEGRATION TEST NOT RUN: %s unavailable: %v (run `make test` as root to install it)", component, err)
	if Required() {
		t.Fatal(msg + " [CHOPPLAN_INTEGRATION=require]")
	}
	fmt.Fprintln(os.Stderr, "testenv: "+msg)
	t.Skip(msg)
}

// Root ends the test unless it runs as root (needed for sshd, netns, sudo set-up).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "root", fmt.Errorf("the test sets up system components and runs as uid %d", os.Geteuid()))
	}
}
