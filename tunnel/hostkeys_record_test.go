package tunnel

import (
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Under the lock, accept-new reads known_hosts again: a key another
// connection recorded meanwhile is not written twice (port 22 included,
// whose entries name the bare host), and another key for the host
// refuses this one as changed rather than trusting both.
func TestAcceptNewRechecksUnderTheLock(t *testing.T) {
	key, other := newHostKey(t), newHostKey(t)
	for _, tc := range []struct {
		name, hostname string
	}{
		{"port 22", "web1:22"},
		{"other port", "web1:2222"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			p := &hostKeyPolicy{mode: HostKeyAcceptNew, files: []string{kh}, record: kh}
			addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}
			same := knownhosts.Line([]string{knownhosts.Normalize(tc.hostname)}, key) + "\n"
			if err := os.WriteFile(kh, []byte(same), 0o600); err != nil {
				t.Fatal(err)
			}
			if recorded, err := p.recordKey(tc.hostname, addr, key); err != nil || !recorded {
				t.Fatalf("the key recorded meanwhile: %v, %v", recorded, err)
			}
			if got, _ := os.ReadFile(kh); string(got) != same {
				t.Fatalf("known_hosts written again: %q", got)
			}
			if _, err := p.recordKey(tc.hostname, addr, other); !isChanged(err) {
				t.Fatalf("another key for the host recorded meanwhile: %v, want it refused as changed", err)
			}
			if got, _ := os.ReadFile(kh); string(got) != same {
				t.Fatalf("a second key was recorded: %q", got)
			}
		})
	}
}

func isChanged(err error) bool {
	var he *HostKeyError
	return errors.As(err, &he) && he.Changed
}
