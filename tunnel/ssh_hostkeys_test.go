package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
	"golang.org/x/sys/unix"
)

// knownHosts writes lines to a fresh known_hosts file.
func knownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	body := ""
	if len(lines) > 0 {
		body = strings.Join(lines, "\n") + "\n"
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ping(t *testing.T, tun *tunnel.Tunnel) error {
	t.Helper()
	_, err := tun.Call(context.Background(), "ping", nil)
	return err
}

// refusedBeforeLogin checks that the server never accepted a login.
func refusedBeforeLogin(t *testing.T, s *testenv.SSHD) {
	t.Helper()
	if log := s.Log(); strings.Contains(log, "Accepted publickey") || strings.Contains(log, "Starting session") {
		t.Fatalf("the host was logged into although its key was refused:\n%s", log)
	}
}

func TestSSHHostKeyChanged(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	other := testenv.NewKey(t, testenv.ED25519)
	for _, mode := range []tunnel.HostKeyMode{tunnel.HostKeyStrict, tunnel.HostKeyAcceptNew} {
		cfg := sshConfigFor(s)
		cfg.HostKeyMode = mode
		cfg.KnownHostsFiles = []string{knownHosts(t, testenv.KnownHostsLine(s.Addr(), other.PublicKey()))}
		err := ping(t, newSSH(t, cfg, nil))
		var hke *tunnel.HostKeyError
		if !errors.As(err, &hke) || !hke.Changed {
			t.Fatalf("%s: changed host key: err = %v", mode, err)
		}
		msg := err.Error()
		for _, want := range []string{"HAS CHANGED", hke.Line(), cfg.KnownHostsFiles[0] + ":1", "SHA256:"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message lacks %q: %s", mode, want, msg)
			}
		}
	}
	refusedBeforeLogin(t, s)
}

func TestSSHHostKeyUnknownStrict(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	cfg := sshConfigFor(s)
	cfg.KnownHostsFiles = []string{knownHosts(t)}
	err := ping(t, newSSH(t, cfg, nil))
	var hke *tunnel.HostKeyError
	if !errors.As(err, &hke) || hke.Changed {
		t.Fatalf("unknown host key: err = %v", err)
	}
	if !strings.Contains(err.Error(), s.KnownHostsLine()) || !strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("message does not give the line to add: %v", err)
	}
	var ue *tunnel.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("not reported for the host: %v", err)
	}
	refusedBeforeLogin(t, s)
}

func TestSSHHostKeyAcceptNew(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	cfg := sshConfigFor(s)
	kh := filepath.Join(t.TempDir(), "ssh", "known_hosts") // neither file nor directory exist yet
	cfg.KnownHostsFiles = []string{kh}
	cfg.HostKeyMode = tunnel.HostKeyAcceptNew
	out := &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARNING: permanently added") {
		t.Fatalf("no warning when recording the key: %q", out.String())
	}
	got, _ := os.ReadFile(kh)
	if string(got) != s.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts = %q, want %q", got, s.KnownHostsLine()+"\n")
	}
	// Now known: strict mode accepts it, and nothing more is written.
	cfg.HostKeyMode = tunnel.HostKeyStrict
	out2 := &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out2)); err != nil {
		t.Fatalf("strict after accept-new: %v", err)
	}
	if again, _ := os.ReadFile(kh); string(again) != string(got) || strings.Contains(out2.String(), "WARNING") {
		t.Fatalf("second connection changed known_hosts (%q) or warned (%q)", again, out2.String())
	}
}

func TestSSHHostKeyOff(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	cfg := sshConfigFor(s)
	cfg.KnownHostsFiles = []string{knownHosts(t)}
	cfg.HostKeyMode = tunnel.HostKeyOff
	for range 2 { // the warning is printed on every connection
		out := &tunneltest.SyncBuffer{}
		if err := ping(t, newSSH(t, cfg, out)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "WARNING: host key checking is off") {
			t.Fatalf("no warning with host key checking off: %q", out.String())
		}
	}
	if got, _ := os.ReadFile(cfg.KnownHostsFiles[0]); len(got) != 0 {
		t.Fatalf("mode off wrote known_hosts: %q", got)
	}
}

func TestSSHHostKeyHashedAndPreferredAlgorithm(t *testing.T) {
	t.Parallel()
	// The server offers ECDSA first, which x/crypto/ssh would also prefer;
	// known_hosts has only its ed25519 key, hashed.
	s := testenv.StartSSHD(t, testenv.SSHDOptions{HostKeyTypes: []testenv.KeyType{testenv.ECDSA, testenv.ED25519}})
	ed := s.HostKeys()[1]
	cfg := sshConfigFor(s)
	line := testenv.HashedKnownHostsLine(s.Addr(), ed)
	cfg.KnownHostsFiles = []string{knownHosts(t, line)}
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatalf("hashed ed25519 entry for a host that also has ECDSA: %v", err)
	}
}

// A key marked @revoked is refused even with host key checking off, as
// OpenSSH does.
func TestSSHHostKeyOffRefusesRevoked(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	cfg := sshConfigFor(s)
	cfg.KnownHostsFiles = []string{knownHosts(t, "@revoked "+s.KnownHostsLine())}
	cfg.HostKeyMode = tunnel.HostKeyOff
	err := ping(t, newSSH(t, cfg, nil))
	var he *tunnel.HostKeyError
	if !errors.As(err, &he) || !he.Revoked {
		t.Fatalf("a revoked key with checking off: %v", err)
	}
	refusedBeforeLogin(t, s)
}

// accept-new writes through a symbolic link (a dotfile manager's) to the
// file it names, and leaves a file that is not a regular one (/dev/null)
// alone, accepting the key for the connection.
func TestSSHHostKeyAcceptNewLinkedOrSpecialFile(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	dir := t.TempDir()
	real := knownHosts(t)
	link := filepath.Join(dir, "known_hosts")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	// A device like /dev/null, of the test's own where it may make one.
	null := filepath.Join(dir, "null")
	if syscall.Mknod(null, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) != nil {
		null = os.DevNull
	}
	cfg := sshConfigFor(s)
	cfg.HostKeyMode = tunnel.HostKeyAcceptNew

	cfg.KnownHostsFiles = []string{link}
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(real); string(got) != s.KnownHostsLine()+"\n" {
		t.Fatalf("the linked file holds %q", got)
	}

	cfg.KnownHostsFiles = []string{null}
	out := &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s was replaced: %v, %v", null, fi.Mode(), err)
	}
	if !strings.Contains(out.String(), "not a regular file") {
		t.Fatalf("no word that the key was not recorded: %q", out.String())
	}
}

// With UserKnownHostsFile none, accept-new has no file of the user's to
// record in: the key is accepted for the connection, with a warning, and
// the global file is not written.
func TestSSHHostKeyAcceptNewWithNoUserFile(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	global := knownHosts(t)
	conf := filepath.Join(t.TempDir(), "ssh_config")
	body := "Host *\n  UserKnownHostsFile none\n  GlobalKnownHostsFile " + global + "\n  StrictHostKeyChecking accept-new\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sshConfigFor(s)
	cfg.KnownHostsFiles, cfg.ConfigFile = nil, conf
	out := &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "for this connection only") {
		t.Fatalf("no warning that the key is not recorded: %q", out.String())
	}
	if got, _ := os.ReadFile(global); len(got) != 0 {
		t.Fatalf("the global known_hosts was written: %q", got)
	}
}

// A known_hosts path given to the tunnel begins with ~ as in ssh_config.
func TestSSHKnownHostsPathExpandsHome(t *testing.T) {
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := sshConfigFor(s)
	cfg.KnownHostsFiles = []string{"~/kh_prod"}
	cfg.HostKeyMode = tunnel.HostKeyAcceptNew
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(home, "kh_prod")); err != nil || string(got) != s.KnownHostsLine()+"\n" {
		t.Fatalf("~/kh_prod: %q, %v", got, err)
	}
}

// An ssh_config that includes a file opening with "Match final all", as
// Fedora's and RHEL's do, is read: its settings apply.
func TestSSHConfigWithMatchFinal(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ssh_config.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	final := fmt.Sprintf("Match final all\n\tPort %d\n\tUser %s\n", s.Port(), s.User())
	if err := os.WriteFile(filepath.Join(dir, "ssh_config.d", "50-final.conf"), []byte(final), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(conf, []byte("Include "+dir+"/ssh_config.d/*.conf\nHost *\n\tIdentitiesOnly yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := sshConfigFor(s)
	cfg.Port, cfg.User, cfg.ConfigFile = 0, "", conf
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatal(err)
	}
}

// Host certificates: a host whose authority a @cert-authority line names
// is checked by its certificate; a certificate from another authority is
// refused saying so; a host unknown to known_hosts is asked for its plain
// key, as OpenSSH does, even when it has a certificate; a host the
// authority covers that shows only a plain key is unknown, not changed.
func TestSSHHostCertificates(t *testing.T) {
	t.Parallel()
	ca, otherCA := testenv.NewKey(t, testenv.ED25519), testenv.NewKey(t, testenv.ED25519)
	s := testenv.StartSSHD(t, testenv.SSHDOptions{HostCA: ca})
	hostPattern := "[" + s.Host() + "]:" + fmt.Sprint(s.Port())
	authority := func(k *testenv.Key) string {
		return "@cert-authority " + hostPattern + " " + strings.TrimSpace(k.AuthorizedKey())
	}
	cfg := sshConfigFor(s)

	cfg.KnownHostsFiles = []string{knownHosts(t, authority(ca))}
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatalf("a host certificate its authority signed: %v", err)
	}

	cfg.KnownHostsFiles = []string{knownHosts(t, authority(otherCA))}
	var he *tunnel.HostKeyError
	if err := ping(t, newSSH(t, cfg, nil)); !errors.As(err, &he) || he.Certificate == "" {
		t.Fatalf("a host certificate another authority signed: %v", err)
	}

	kh := knownHosts(t)
	cfg.KnownHostsFiles, cfg.HostKeyMode = []string{kh}, tunnel.HostKeyAcceptNew
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatalf("accept-new with a host that has a certificate: %v", err)
	}
	if got, _ := os.ReadFile(kh); string(got) != s.KnownHostsLine()+"\n" {
		t.Fatalf("accept-new recorded %q, want the plain key", got)
	}

	plain := testenv.StartSSHD(t, testenv.SSHDOptions{})
	cfg = sshConfigFor(plain)
	cfg.KnownHostsFiles = []string{knownHosts(t, "@cert-authority ["+plain.Host()+"]:"+fmt.Sprint(plain.Port())+" "+strings.TrimSpace(ca.AuthorizedKey()))}
	if err := ping(t, newSSH(t, cfg, nil)); !errors.As(err, &he) || he.Changed || he.Certificate != "" {
		t.Fatalf("a covered host with only a plain key: %v, want it refused as unknown", err)
	}
}
