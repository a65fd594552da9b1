package tunnel_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
)

// A target of another architecture gets the agent built for it, from the
// agents directory (make build writes dist/chopplan-linux-arm64). The
// target here claims to be aarch64 through a uname of its own, and the
// "arm64 agent" is a copy of this binary, so it runs: what is proved is
// that the controller picked the file for the target's platform, uploaded
// it, and verified it by its sha256.
func TestAgentForAnotherArchitecture(t *testing.T) {
	ctx := context.Background()
	fake := t.TempDir()
	uname := "#!/bin/sh\ncase \"$1\" in -s) echo Linux ;; -m) echo aarch64 ;; *) echo Linux aarch64 ;; esac\n"
	if err := os.WriteFile(filepath.Join(fake, "uname"), []byte(uname), 0o755); err != nil {
		t.Fatal(err)
	}
	agents := t.TempDir()
	self, _ := os.Executable()
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	// A different file than this binary (so a different sha256), still runnable.
	arm := filepath.Join(agents, "chopplan-linux-arm64")
	if err := os.WriteFile(arm, append(b, []byte("arm64")...), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	kind := tunnel.Exec("arm", []string{"env", "PATH=" + fake + ":/usr/bin:/bin", "HOME=" + home, "sh"})
	tun := tunnel.New(kind, tunnel.Options{Agents: &tunnel.AgentBinaries{Dir: agents}, Output: io.Discard})
	defer tun.Close()
	if _, err := tun.Call(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	want, err := (&tunnel.AgentBinaries{Dir: agents}).For("linux", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(home, ".cache", "chopplan", "agent-"+want.SHA256)
	if fi, err := os.Stat(cached); err != nil || fi.Size() != want.Size {
		t.Fatalf("the arm64 agent was not installed on the target: %v", err)
	}
	// No agent for the platform: a clear error naming what is missing.
	none := tunnel.New(kind, tunnel.Options{Agents: &tunnel.AgentBinaries{Dir: t.TempDir()}, Output: io.Discard})
	defer none.Close()
	if _, err := none.Call(ctx, "ping", nil); err == nil {
		t.Fatal("a target with no agent for its platform was reached")
	} else if !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("unclear error: %v", err)
	}
}
