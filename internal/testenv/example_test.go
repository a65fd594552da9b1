package testenv_test

import (
	"net"
	"testing"
	"time"

	"github.com/chopplan/chopplan/internal/testenv"
)

// reportsCutOffHost is how a tunnel test uses the harness: two hosts that
// share the user's one key, an ssh_config naming them, one of them in a
// network namespace so that it can drop off the network mid-run.
func reportsCutOffHost(t *testing.T) {
	key := testenv.NewKey(t, testenv.ED25519)
	web1 := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{key}})
	far := testenv.NewNetnsHost(t, "web2")
	web2 := far.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{key}})
	sshConfig := testenv.WriteSSHConfig(t,
		testenv.SSHConfigHost{Alias: "web1", SSHD: web1},
		testenv.SSHConfigHost{Alias: "web2", SSHD: web2},
	)
	_ = sshConfig // run chopplan with -F sshConfig --on ssh://web1,ssh://web2 …

	if err := far.CutOff(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", web2.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("web2 still reachable")
	}
}

// Example shows a test written against real components; it only compiles
// here, since it needs root.
func Example() {
	_ = reportsCutOffHost
}
