package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// output runs cmd in a new session of c and returns its trimmed stdout.
func output(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output(cmd)
	if err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	return strings.TrimSpace(string(out))
}

// knownHostsCallback verifies host keys against the given lines, written
// to a file as a user's known_hosts would be.
func knownHostsCallback(t *testing.T, lines ...string) ssh.HostKeyCallback {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func TestSSHDAcceptsGeneratedKeyAndKnownHostsLine(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDOptions{})
	if want := fmt.Sprintf("[%s]:%d ssh-ed25519 ", s.Host(), s.Port()); !strings.HasPrefix(s.KnownHostsLine(), want) {
		t.Errorf("KnownHostsLine() = %q, want prefix %q", s.KnownHostsLine(), want)
	}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:            s.User(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey().Signer)},
		HostKeyCallback: knownHostsCallback(t, s.KnownHostsLine()),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := output(t, c, "id -un"); got != TestUserName {
		t.Errorf("id -un = %q, want %q", got, TestUserName)
	}
}

func TestSSHDSeveralServersAndHostKeyChecks(t *testing.T) {
	t.Parallel()
	a := StartSSHD(t, SSHDOptions{})
	b := StartSSHD(t, SSHDOptions{ClientKeys: a.ClientKeys()})
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on one address %s", a.Addr())
	}
	dial := func(s *SSHD, cb ssh.HostKeyCallback) error {
		c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
			User:            s.User(),
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey().Signer)},
			HostKeyCallback: cb,
		})
		if err == nil {
			if got := output(t, c, "id -un"); got != s.User() {
				t.Errorf("%s: id -un = %q", s.Addr(), got)
			}
			c.Close()
		}
		return err
	}

	if err := dial(a, knownHostsCallback(t, a.HashedKnownHostsLine())); err != nil {
		t.Errorf("hashed known_hosts line: %v", err)
	}
	if !strings.HasPrefix(a.HashedKnownHostsLine(), "|1|") {
		t.Errorf("HashedKnownHostsLine() = %q, want a |1| hash", a.HashedKnownHostsLine())
	}
	if err := dial(b, knownHostsCallback(t, b.KnownHostsLine())); err != nil {
		t.Errorf("second server: %v", err)
	}

	// a's key recorded for b's address: a changed host key.
	var ke *knownhosts.KeyError
	err := dial(b, knownHostsCallback(t, KnownHostsLine(b.Addr(), a.HostKey())))
	if !errors.As(err, &ke) || len(ke.Want) != 1 {
		t.Errorf("changed host key: got %v, want a knownhosts.KeyError with the recorded key", err)
	}
	// Only a known: b is unknown.
	err = dial(b, knownHostsCallback(t, a.KnownHostsLine()))
	if !errors.As(err, &ke) || len(ke.Want) != 0 {
		t.Errorf("unknown host: got %v, want a knownhosts.KeyError with no recorded key", err)
	}
}

func TestSSHDKeyTypes(t *testing.T) {
	t.Parallel()
	const passphrase = "correct horse battery staple"
	ecdsaKey, rsaKey := NewKey(t, ECDSA), NewKey(t, RSA)
	encrypted := NewEncryptedKey(t, ED25519, passphrase)
	s := StartSSHD(t, SSHDOptions{
		HostKeyTypes: []KeyType{ED25519, ECDSA, RSA},
		ClientKeys:   []*Key{ecdsaKey, rsaKey, encrypted},
	})

	pem, err := os.ReadFile(encrypted.Path)
	if err != nil {
		t.Fatal(err)
	}
	var missing *ssh.PassphraseMissingError
	if _, err := ssh.ParsePrivateKey(pem); !errors.As(err, &missing) {
		t.Errorf("encrypted key parsed without passphrase: %v", err)
	}
	fromFile := map[*Key]ssh.Signer{}
	for _, k := range []*Key{ecdsaKey, rsaKey, encrypted} {
		b, err := os.ReadFile(k.Path)
		if err != nil {
			t.Fatal(err)
		}
		if k.Passphrase != "" {
			fromFile[k], err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(k.Passphrase))
		} else {
			fromFile[k], err = ssh.ParsePrivateKey(b)
		}
		if err != nil {
			t.Fatalf("%s: %v", k.Path, err)
		}
	}

	hostKeyAlgorithms := map[KeyType]string{ED25519: "ssh-ed25519", ECDSA: "ecdsa-sha2-nistp256", RSA: "rsa-sha2-512"}
	cb, err := knownhosts.New(s.KnownHostsFile())
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []*Key{ecdsaKey, rsaKey, encrypted} {
		hostType := []KeyType{ED25519, ECDSA, RSA}[i] // each login checks another host key
		c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
			User:              s.User(),
			Auth:              []ssh.AuthMethod{ssh.PublicKeys(fromFile[k])},
			HostKeyCallback:   cb,
			HostKeyAlgorithms: []string{hostKeyAlgorithms[hostType]},
		})
		if err != nil {
			t.Errorf("client %s key, %s host key: %v", k.Type, hostType, err)
			continue
		}
		if got := output(t, c, "id -un"); got != s.User() {
			t.Errorf("id -un = %q", got)
		}
		c.Close()
	}

	cfg := s.ClientConfig(t)
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(NewKey(t, ED25519).Signer)}
	if c, err := ssh.Dial("tcp", s.Addr(), cfg); err == nil {
		c.Close()
		t.Error("a key not in authorized_keys logged in")
	}
}

func TestSSHDRootLogin(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDOptions{User: "root"})
	if c, err := ssh.Dial("tcp", s.Addr(), s.ClientConfig(t)); err == nil {
		c.Close()
		t.Error("root logged in though PermitRootLogin is off by default")
	}
	r := StartSSHD(t, SSHDOptions{User: "root", PermitRootLogin: true})
	if got := output(t, r.Dial(t), "id -un"); got != "root" {
		t.Errorf("id -un = %q, want root", got)
	}
}

func TestSSHDKillLeavesNoProcessAndRestarts(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDOptions{})
	c := s.Dial(t)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The shell prints its pid and becomes a long sleep: a command that
	// would outlive the server if Kill only stopped the listener.
	if err := sess.Start("echo $$; exec sleep 300"); err != nil {
		t.Fatal(err)
	}
	var sleepPid int
	if _, err := fmt.Fscan(stdout, &sleepPid); err != nil {
		t.Fatalf("remote shell did not print its pid: %v", err)
	}
	tree := append([]int{s.Pid()}, descendants(s.Pid())...)
	if len(tree) < 3 {
		t.Fatalf("process tree %v should hold the listener, the connection and the command", tree)
	}
	found := false
	for _, p := range tree {
		found = found || p == sleepPid
	}
	if !found {
		t.Fatalf("command pid %d not under sshd %d (tree %v)", sleepPid, s.Pid(), tree)
	}

	s.Kill()
	var left []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		left = left[:0]
		for _, p := range tree {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("processes %v still alive after Kill", left)
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second); err == nil {
		conn.Close()
		t.Fatal("killed server still accepts connections")
	}

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := output(t, s.Dial(t), "id -un"); got != s.User() {
		t.Errorf("after restart: id -un = %q", got)
	}
}

func TestWriteSSHConfigWithOpenSSHClient(t *testing.T) {
	t.Parallel()
	jump := StartSSHD(t, SSHDOptions{})
	target := StartSSHD(t, SSHDOptions{ClientKeys: jump.ClientKeys()})
	cfg := WriteSSHConfig(t,
		SSHConfigHost{Alias: "jump", SSHD: jump},
		SSHConfigHost{Alias: "target", SSHD: target, ProxyJump: "jump"},
	)
	out, err := exec.Command("ssh", "-F", cfg, "-o", "BatchMode=yes", "target", "id -un; echo $SSH_CONNECTION").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh -F %s target: %v: %s", cfg, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != target.User() {
		t.Fatalf("ssh output %q, want the user and $SSH_CONNECTION", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[2] != target.Host() || f[3] != fmt.Sprint(target.Port()) {
		t.Errorf("SSH_CONNECTION = %q, want the target's %s", lines[1], target.Addr())
	}
	if !strings.Contains(jump.Log(), "Accepted publickey for "+jump.User()) {
		t.Errorf("the jump host saw no login, so ProxyJump was not used; its log:\n%s", jump.Log())
	}
}
