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

// An authority's key recorded for the host does not make the host's own
// plain key, recorded meanwhile by no one, look changed (the callback
// finds it unknown; so must the check under the lock).
func TestAcceptNewRecheckIgnoresAuthorities(t *testing.T) {
	ca, key := newHostKey(t), newHostKey(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := "@cert-authority " + knownhosts.Line([]string{"web1"}, ca) + "\n"
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &hostKeyPolicy{mode: HostKeyAcceptNew, files: []string{kh}, record: kh}
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}
	if recorded, err := p.recordKey("web1:22", addr, key); err != nil || !recorded {
		t.Fatalf("a key beside an authority: %v, %v", recorded, err)
	}
	want := line + knownhosts.Line([]string{"web1"}, key) + "\n"
	if got, _ := os.ReadFile(kh); string(got) != want {
		t.Fatalf("known_hosts %q, want %q", got, want)
	}
}

// A symbolic link to a known_hosts that does not exist yet is followed:
// the file is made where it points, and the link stays.
func TestRecordThroughADanglingLink(t *testing.T) {
	dir := t.TempDir()
	link, target := filepath.Join(dir, "known_hosts"), filepath.Join(dir, "real", "known_hosts")
	if err := os.Symlink("real/known_hosts", link); err != nil {
		t.Fatal(err)
	}
	p := &hostKeyPolicy{mode: HostKeyAcceptNew, files: []string{link}, record: link}
	key := newHostKey(t)
	if _, err := p.recordKey("web1:22", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}, key); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != knownhosts.Line([]string{"web1"}, key)+"\n" {
		t.Fatalf("the link's target holds %q", got)
	}
}

// A relative link is read from the real directory it lies in: its ..
// leaves that directory, not the one it was reached by (~/.ssh a link to
// /data/ssh, say).
func TestRecordThroughALinkInALinkedDirectory(t *testing.T) {
	root := t.TempDir()
	data, home := filepath.Join(root, "data"), filepath.Join(root, "home")
	for _, d := range []string{filepath.Join(data, "ssh"), filepath.Join(data, "shared"), home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(data, "ssh"), filepath.Join(home, ".ssh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/known_hosts", filepath.Join(data, "ssh", "known_hosts")); err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(home, ".ssh", "known_hosts")
	if got, want := followLinks(kh), filepath.Join(data, "shared", "known_hosts"); got != want {
		t.Fatalf("followLinks(%s) = %s, want %s", kh, got, want)
	}
}
