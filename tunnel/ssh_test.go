package tunnel_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// sshConfigFor is a configuration that reaches s with its own key and
// known_hosts and nothing from the machine's ssh_config or ssh-agent.
func sshConfigFor(s *testenv.SSHD) tunnel.SSHConfig {
	return tunnel.SSHConfig{
		Name: s.Addr(), Host: s.Host(), Port: s.Port(), User: s.User(),
		IdentityFiles:   []string{s.ClientKey().Path},
		KnownHostsFiles: []string{s.KnownHostsFile()},
		ConfigFile:      "none", NoAgent: true,
	}
}

func newSSH(t testing.TB, cfg tunnel.SSHConfig, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
	t.Helper()
	k, err := tunnel.SSH(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := tunnel.Options{}
	if out != nil {
		opts.Output = out
	}
	tun := tunnel.New(k, opts)
	t.Cleanup(func() { tun.Close() })
	return tun
}

func TestSSHContract(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return newSSH(t, sshConfigFor(s), out)
		},
		Shell: true, Shared: true, Dir: testenv.UserDir(t, s.User()),
	})
}

func TestSSHPing(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	tun := newSSH(t, sshConfigFor(s), nil)
	v, err := tun.Call(context.Background(), "ping", nil)
	if err != nil || v.AsString() != "pong" {
		t.Fatalf("ping = %v, %v", v, err)
	}
}

// writeConfig writes an ssh_config for a test.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSHCachedAgentNotUploadedAgain(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	home := testenv.HomeOf(t, s.User())
	if err := ping(t, newSSH(t, sshConfigFor(s), nil)); err != nil {
		t.Fatal(err)
	}
	first := agentFiles(t, home)
	tun := newSSH(t, sshConfigFor(s), nil)
	exe, err := tun.Call(context.Background(), "tunneltest.exe", nil)
	if err != nil {
		t.Fatal(err)
	}
	ino, ok := first[exe.AsString()]
	if !ok {
		t.Fatalf("agent runs from %s, not from the cache %v", exe.AsString(), first)
	}
	if again := agentFiles(t, home); again[exe.AsString()] != ino {
		t.Fatalf("%s was installed again (inode %d, then %d)", exe.AsString(), ino, again[exe.AsString()])
	}
}
