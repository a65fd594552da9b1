package tunnel

import (
	"io"
	"net"
	"path/filepath"
	"testing"
)

// An ssh-agent that takes the connection and never answers is skipped
// after agentTimeout, not waited for (docs/ssh.md, "Authentication").
func TestSilentSSHAgentIsSkipped(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	a, err := loadAuth(nil, false, false, sock, "", io.Discard) // without the deadline, for good
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if len(a.signers) != 0 {
		t.Fatalf("%d keys from an agent that said nothing", len(a.signers))
	}
}
