package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// UserDir returns a fresh directory owned by user (mode 0700) that user
// can reach, for a tunnel logged in as user to write into. It is removed
// when the test ends.
func UserDir(t testing.TB, user string) string {
	t.Helper()
	Root(t)
	a := resolveAccount(t, user)
	dir := filepath.Join(publicTempDir(t, "chopplan-userdir-"), "d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dir
}

// HomeOf returns user's home directory.
func HomeOf(t testing.TB, user string) string {
	t.Helper()
	return resolveAccount(t, user).home
}

// SSHAgent is a running OpenSSH ssh-agent holding keys a test added.
type SSHAgent struct {
	// Socket is what SSH_AUTH_SOCK names.
	Socket string
}

// StartSSHAgent starts a real ssh-agent on a private socket, adds keys to
// it with ssh-add, and kills it when the test ends.
func StartSSHAgent(t testing.TB, keys ...*Key) *SSHAgent {
	t.Helper()
	ensure(t, sshdRequirement)
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		Unavailable(t, "ssh-agent", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 500 {
			t.Fatalf("testenv: ssh-agent socket %s did not appear", sock)
		}
		waitTick()
	}
	for _, k := range keys {
		add := exec.Command("ssh-add", "-q", k.Path)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("testenv: ssh-add %s: %v: %s", k.Path, err, out)
		}
	}
	return &SSHAgent{Socket: sock}
}

// waitTick is the poll interval of bounded waits.
func waitTick() { time.Sleep(10 * time.Millisecond) }
