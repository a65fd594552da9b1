package tunnel_test

import (
	"context"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// sudoProbeEnv makes the test binary, run as another user, try a sudo
// tunnel to root and print what happened (see TestSudoNeedsPassword).
const sudoProbeEnv = "CHOPPLAN_TEST_SUDO_PROBE"

func sudoProbe() int {
	tun := tunnel.New(tunnel.Sudo("", "root"), tunnel.Options{})
	defer tun.Close()
	_, err := tun.Call(context.Background(), "ping", nil)
	if err == nil {
		os.Stdout.WriteString("ok\n")
		return 0
	}
	os.Stdout.WriteString(err.Error() + "\n")
	return 1
}

// userDir makes a directory owned by name for the contract's files.
func userDir(t *testing.T, name string) string {
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "chopplan-sudo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	return dir
}

func TestSudoContract(t *testing.T) {
	testenv.Root(t)
	name := testenv.SudoUser(t)
	dir := userDir(t, name)
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.Sudo("", name), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: dir,
	})
	tun := tunnel.New(tunnel.Sudo("", name), tunnel.Options{})
	defer tun.Close()
	v, err := tun.Call(context.Background(), "facts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.GetAttr("user").AsString(); got != name {
		t.Fatalf("agent runs as %q, want %q", got, name)
	}
}

func TestSudoNeedsPassword(t *testing.T) {
	testenv.Root(t)
	name, _ := testenv.PasswordUser(t)
	exe := testenv.ExecutableFor(t, name)
	cmd := testenv.RunAs(t, name, exe)
	cmd.Env = append(cmd.Env, sudoProbeEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("sudo without a rule succeeded: %s", out)
	}
	if !strings.Contains(string(out), "needs a password") || !strings.Contains(string(out), "NOPASSWD") {
		t.Fatalf("unclear error for sudo needing a password:\n%s", out)
	}
}

func TestSudoUnknownUser(t *testing.T) {
	testenv.Root(t)
	tun := tunnel.New(tunnel.Sudo("", "no-such-user-x"), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	defer tun.Close()
	_, err := tun.Call(context.Background(), "ping", nil)
	var ue *tunnel.UnreachableError
	if !asUnreachable(err, &ue) || !strings.Contains(err.Error(), "no-such-user-x") {
		t.Fatalf("err = %v", err)
	}
}

// Agents started as local processes (local, exec and sudo tunnels) run in
// a process group other than the controller's: a Ctrl-C at the terminal,
// which goes to the controller's group, does not reach them.
func TestLocalAgentsHaveTheirOwnProcessGroup(t *testing.T) {
	testenv.Root(t)
	user := testenv.SudoUser(t)
	for name, kind := range map[string]tunnel.Kind{
		"local": tunnel.Local("local"),
		"exec":  tunnel.Exec("exec", []string{"sh"}),
		"sudo":  tunnel.Sudo("", user),
	} {
		t.Run(name, func(t *testing.T) {
			tun := tunnel.New(kind, tunnel.Options{})
			defer tun.Close()
			peer, err := tun.Peer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			pgid, err := syscall.Getpgid(peer.PID)
			if err != nil {
				t.Fatal(err)
			}
			if pgid == syscall.Getpgrp() {
				t.Fatalf("the agent (pid %d) is in the controller's process group %d", peer.PID, pgid)
			}
		})
	}
}
