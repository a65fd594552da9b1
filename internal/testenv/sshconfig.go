package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownHostsLine returns a plain known_hosts line for key at addr
// ("host:port"); port 22 gives a bare host, any other port "[host]:port".
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{addr}, key)
}

// HashedKnownHostsLine returns a known_hosts line for key at addr with the
// host hashed ("|1|salt|hash"), as OpenSSH writes with HashKnownHosts yes.
func HashedKnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " +
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// SSHConfigHost is one Host block of an ssh_config written by
// WriteSSHConfig.
type SSHConfigHost struct {
	// Alias is the Host pattern, the name a plan or `ssh` uses.
	Alias string
	// SSHD gives HostName, Port, User and the host keys.
	SSHD *SSHD
	// Key is the IdentityFile; nil means SSHD.ClientKey().
	Key *Key
	// ProxyJump names the jump host, e.g. another block's Alias.
	ProxyJump string
	// Options are extra "Keyword value" lines for the block.
	Options []string
}

// WriteSSHConfig writes an ssh_config with one Host block per host, and a
// known_hosts file beside it holding every host's keys that each block
// names as its UserKnownHostsFile, so that both `ssh -F PATH ALIAS` and
// chopplan find hosts by alias with strict host key checking. It returns
// the config's path.
func WriteSSHConfig(t testing.TB, hosts ...SSHConfigHost) string {
	t.Helper()
	dir := t.TempDir()
	knownHosts := filepath.Join(dir, "known_hosts")
	var kh, cfg strings.Builder
	for _, h := range hosts {
		if h.SSHD == nil || h.Alias == "" {
			t.Fatalf("testenv: WriteSSHConfig: host %q needs an Alias and an SSHD", h.Alias)
		}
		for _, k := range h.SSHD.HostKeys() {
			kh.WriteString(KnownHostsLine(h.SSHD.Addr(), k) + "\n")
		}
		key := h.Key
		if key == nil {
			key = h.SSHD.ClientKey()
		}
		fmt.Fprintf(&cfg, "Host %s\n", h.Alias)
		fmt.Fprintf(&cfg, "  HostName %s\n  Port %d\n  User %s\n", h.SSHD.Host(), h.SSHD.Port(), h.SSHD.User())
		fmt.Fprintf(&cfg, "  IdentityFile %s\n  IdentitiesOnly yes\n", key.Path)
		fmt.Fprintf(&cfg, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n", knownHosts)
		if h.ProxyJump != "" {
			fmt.Fprintf(&cfg, "  ProxyJump %s\n", h.ProxyJump)
		}
		for _, o := range h.Options {
			fmt.Fprintf(&cfg, "  %s\n", o)
		}
		cfg.WriteString("\n")
	}
	if err := os.WriteFile(knownHosts, []byte(kh.String()), 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	path := filepath.Join(dir, "ssh_config")
	// ssh refuses a config that others can write.
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return path
}
