package testenv

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPath is absolute because sshd re-executes itself for every
// connection and refuses to start from a relative path.
const sshdPath = "/usr/sbin/sshd"

// sshdReadyTimeout bounds the wait for a new sshd to accept connections;
// it normally takes a few milliseconds.
const sshdReadyTimeout = 15 * time.Second

// SSHDOptions configures StartSSHD. The zero value is a hardened server:
// one ed25519 host key, key authentication only, no root login, and the
// test user (TestUser) as the account to log in as.
type SSHDOptions struct {
	// User is the account clients log in as. Empty means TestUser;
	// accounts other than TestUserName and PasswordUserName must exist.
	User string
	// HostKeyTypes are the host keys sshd offers; empty means ED25519.
	// The first one is what KnownHostsLine records.
	HostKeyTypes []KeyType
	// ClientKeys are written to authorized_keys. Empty means one fresh
	// ED25519 key. Passing the same keys to several servers gives a test
	// what a user with one ~/.ssh/id_ed25519 has.
	ClientKeys []*Key
	// PermitRootLogin lets root log in with a key, as
	// "PermitRootLogin prohibit-password" does.
	PermitRootLogin bool
	// ListenIP is the loopback address to listen on; empty means a random
	// 127.0.0.x, so that several servers look like several hosts. Ignored
	// by NetnsHost.StartSSHD, which listens on the namespace's address.
	ListenIP string
	// LogLevel is sshd's; empty means VERBOSE (it names the key that was
	// accepted). The log is printed when the test fails.
	LogLevel string
	// HostCA, when set, signs the first host key into a host certificate
	// (principal: the listen address) that sshd presents to clients that
	// ask for one.
	HostCA *Key
	// Config holds extra sshd_config lines. They come before the defaults
	// and so override them (sshd keeps the first value it reads for a
	// keyword); Match blocks are not supported.
	Config []string
}

// SSHD is a running OpenSSH server started by StartSSHD.
type SSHD struct {
	opts       SSHDOptions
	dir        string
	host       string
	port       int
	user       string
	hostKeys   []*Key
	clientKeys []*Key
	configPath string
	logPath    string
	netns      *NetnsHost

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// errAddrInUse marks a start that lost its port to another process between
// the port being probed free and sshd binding it.
var errAddrInUse = errors.New("address already in use")

// StartSSHD starts a real OpenSSH sshd (`sshd -D -e -f CONFIG`) on a
// loopback address and a free port, with fresh host keys and a private
// configuration, and returns once it accepts connections. It is stopped,
// with every session it started, when the test ends. It needs root; when
// sshd is missing it installs openssh-server with apt, or ends the test
// through Unavailable.
func StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	return startSSHD(t, opts, nil)
}

func startSSHD(t testing.TB, opts SSHDOptions, ns *NetnsHost) *SSHD {
	t.Helper()
	Root(t)
	ensure(t, sshdRequirement)
	s := &SSHD{opts: opts, netns: ns, user: opts.User}
	if s.user == "" {
		s.user = TestUser(t)
	}
	resolveAccount(t, s.user)
	s.dir = publicTempDir(t, "chopplan-sshd-")
	s.configPath = filepath.Join(s.dir, "sshd_config")
	s.logPath = filepath.Join(s.dir, "sshd.log")

	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []KeyType{ED25519}
	}
	for _, typ := range types {
		s.hostKeys = append(s.hostKeys, newKey(t, s.dir, "ssh_host_"+string(typ)+"_key", typ, ""))
	}
	s.clientKeys = opts.ClientKeys
	if len(s.clientKeys) == 0 {
		s.clientKeys = []*Key{NewKey(t, ED25519)}
	}
	var authorized strings.Builder
	for _, k := range s.clientKeys {
		authorized.WriteString(k.AuthorizedKey())
	}
	// 0644 in a 0755 directory: sshd reads it with the login user's rights.
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), []byte(authorized.String()), 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// sshd refuses to start without its privilege separation directory,
	// which only the packaged service's start-up creates.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}

	for attempt := 1; ; attempt++ {
		if err := s.pickAddress(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if err := s.writeFiles(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		err := s.start()
		if err == nil {
			break
		}
		if errors.Is(err, errAddrInUse) && s.netns == nil && opts.ListenIP == "" && attempt < 3 {
			continue
		}
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("sshd %s log (end):\n%s", s.Addr(), tail(b, 4000))
		}
	})
	return s
}

// pickAddress chooses where the server listens.
func (s *SSHD) pickAddress() error {
	if s.netns != nil {
		s.host, s.port = s.netns.ip.String(), s.netns.nextPort()
		return nil
	}
	s.host = s.opts.ListenIP
	if s.host == "" {
		s.host = fmt.Sprintf("127.0.0.%d", 2+mrand.IntN(252))
	}
	// Ask the kernel for a free port. Another process could take it before
	// sshd binds it; start reports that as errAddrInUse and we retry.
	l, err := net.Listen("tcp", net.JoinHostPort(s.host, "0"))
	if err != nil {
		return fmt.Errorf("find a free port on %s: %w", s.host, err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	return l.Close()
}

// writeFiles writes sshd_config and known_hosts for the current address.
func (s *SSHD) writeFiles() error {
	root := "no"
	if s.opts.PermitRootLogin {
		root = "prohibit-password"
	}
	level := s.opts.LogLevel
	if level == "" {
		level = "VERBOSE"
	}
	var c strings.Builder
	for _, l := range s.opts.Config {
		c.WriteString(l + "\n")
	}
	fmt.Fprintf(&c, "ListenAddress %s\n", s.Addr())
	for _, k := range s.hostKeys {
		fmt.Fprintf(&c, "HostKey %s\n", k.Path)
	}
	if s.opts.HostCA != nil {
		k := s.hostKeys[0]
		out, err := exec.Command("ssh-keygen", "-q", "-s", s.opts.HostCA.Path, "-h", "-I", "chopplan-test",
			"-n", s.host, "-V", "-5m:+1d", k.Path+".pub").CombinedOutput()
		if err != nil {
			return fmt.Errorf("signing the host key: %v: %s", err, out)
		}
		fmt.Fprintf(&c, "HostCertificate %s-cert.pub\n", k.Path)
	}
	fmt.Fprintf(&c, "PidFile %s\n", filepath.Join(s.dir, "sshd.pid"))
	fmt.Fprintf(&c, "AuthorizedKeysFile %s\n", filepath.Join(s.dir, "authorized_keys"))
	fmt.Fprintf(&c, "PermitRootLogin %s\n", root)
	fmt.Fprintf(&c, "LogLevel %s\n", level)
	// StrictModes would reject authorized_keys under the world-writable
	// /tmp; PAM is not needed for key logins and is absent in containers.
	c.WriteString(`UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
AllowAgentForwarding yes
Subsystem sftp internal-sftp
MaxStartups 200
MaxSessions 100
`)
	// Since 9.8 sshd penalizes addresses that fail to authenticate; tests
	// that fail on purpose from 127.0.0.1 must not lock the others out.
	if v := sshdVersion(); v.major > 9 || v.major == 9 && v.minor >= 8 {
		c.WriteString("PerSourcePenalties no\n")
	}
	if err := os.WriteFile(s.configPath, []byte(c.String()), 0o644); err != nil {
		return err
	}
	var kh strings.Builder
	for _, k := range s.hostKeys {
		kh.WriteString(KnownHostsLine(s.Addr(), k.PublicKey()) + "\n")
	}
	return os.WriteFile(s.KnownHostsFile(), []byte(kh.String()), 0o644)
}

type version struct{ major, minor int }

var sshdVersion = sync.OnceValue(func() version {
	out, _ := exec.Command(sshdPath, "-V").CombinedOutput()
	m := regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		return version{}
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return version{major, minor}
})

// start runs sshd and waits, bounded, until its port accepts connections.
func (s *SSHD) start() error {
	argv := []string{sshdPath, "-D", "-e", "-f", s.configPath}
	if s.netns != nil {
		argv = append([]string{"ip", "netns", "exec", s.netns.name}, argv...)
	}
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	// Its own process group keeps a terminal's ^C for the test binary,
	// which then stops sshd in cleanup; Pdeathsig ends sshd if the test
	// binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	logSince := func() string {
		b, _ := os.ReadFile(s.logPath)
		if int64(len(b)) >= logStart {
			b = b[logStart:]
		}
		return tail(b, 2000)
	}
	deadline := time.Now().Add(sshdReadyTimeout)
	delay := 2 * time.Millisecond
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			conn.Close()
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			log := logSince()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("sshd on %s: %w", s.Addr(), errAddrInUse)
			}
			return fmt.Errorf("sshd on %s exited (%v): %s", s.Addr(), cmd.ProcessState, log)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			killTree(cmd.Process.Pid)
			<-done
			return fmt.Errorf("sshd on %s not accepting connections after %v: %v: %s", s.Addr(), sshdReadyTimeout, err, logSince())
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// Kill stops the server and every connection and command it started, as
// a host that goes down would. Restart brings it back. Safe to call from
// any goroutine and when already stopped.
func (s *SSHD) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	killTree(s.cmd.Process.Pid)
	<-s.done
	s.cmd, s.done = nil, nil
}

// Restart kills the server if it runs and starts it again with the same
// address, host keys and authorized keys.
func (s *SSHD) Restart() error {
	s.Kill()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(); err != nil {
		return fmt.Errorf("testenv: restart: %w", err)
	}
	return nil
}

// Pid returns the listening sshd's process id, or 0 when it is stopped.
func (s *SSHD) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Addr returns "host:port", ready for net.Dial and ssh.Dial.
func (s *SSHD) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Host returns the IP address the server listens on.
func (s *SSHD) Host() string { return s.host }

// Port returns the TCP port the server listens on.
func (s *SSHD) Port() int { return s.port }

// User returns the account clients log in as.
func (s *SSHD) User() string { return s.user }

// HostKey returns the server's first host key (ed25519 unless
// SSHDOptions.HostKeyTypes said otherwise).
func (s *SSHD) HostKey() ssh.PublicKey { return s.hostKeys[0].PublicKey() }

// HostKeys returns all of the server's host keys, in HostKeyTypes order.
func (s *SSHD) HostKeys() []ssh.PublicKey {
	keys := make([]ssh.PublicKey, len(s.hostKeys))
	for i, k := range s.hostKeys {
		keys[i] = k.PublicKey()
	}
	return keys
}

// ClientKey returns the first authorized client key.
func (s *SSHD) ClientKey() *Key { return s.clientKeys[0] }

// ClientKeys returns every authorized client key.
func (s *SSHD) ClientKeys() []*Key { return s.clientKeys }

// Dir returns the server's private directory (config, keys, log).
func (s *SSHD) Dir() string { return s.dir }

// Log returns what sshd has logged so far.
func (s *SSHD) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// KnownHostsLine returns the known_hosts line for HostKey at Addr, in the
// plain form OpenSSH writes ("[127.0.0.5]:2222 ssh-ed25519 AAAA…"), without
// a trailing newline.
func (s *SSHD) KnownHostsLine() string { return KnownHostsLine(s.Addr(), s.HostKey()) }

// HashedKnownHostsLine is KnownHostsLine with the host name hashed, as
// OpenSSH writes it with HashKnownHosts yes.
func (s *SSHD) HashedKnownHostsLine() string { return HashedKnownHostsLine(s.Addr(), s.HostKey()) }

// KnownHostsFile returns the path of a known_hosts file holding the plain
// line of every host key of the server.
func (s *SSHD) KnownHostsFile() string { return filepath.Join(s.dir, "known_hosts") }

// ClientConfig returns a client configuration that logs in as User with
// ClientKey and verifies the host key against KnownHostsFile.
func (s *SSHD) ClientConfig(t testing.TB) *ssh.ClientConfig {
	t.Helper()
	cb, err := knownhosts.New(s.KnownHostsFile())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return &ssh.ClientConfig{
		User:            s.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey().Signer)},
		HostKeyCallback: cb,
		Timeout:         10 * time.Second,
	}
}

// Dial logs in with ClientConfig and returns the client, closed when the
// test ends.
func (s *SSHD) Dial(t testing.TB) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", s.Addr(), s.ClientConfig(t))
	if err != nil {
		t.Fatalf("testenv: ssh %s@%s: %v", s.user, s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
