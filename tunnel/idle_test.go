package tunnel_test

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
)

// An agent that dies while nothing is asked of it (a local agent's
// stream is read only while a caller waits) is found gone by the next
// call, which goes to a new agent rather than failing.
func TestAgentKilledWhileIdle(t *testing.T) {
	ctx := context.Background()
	tun, first := localAgent(t, "idle")
	if _, err := tun.Call(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until it is reaped: a zombie's threads may still hold its pipes.
	for processExists(first.PID) {
		runtime.Gosched()
	}
	for i := range 2 {
		if _, err := tun.Call(ctx, "ping", nil); err != nil {
			t.Fatalf("call %d after the agent was killed: %v", i+1, err)
		}
	}
	second, err := tun.Peer(ctx)
	if err != nil || second.PID == first.PID {
		t.Fatalf("agent pid %d, then %d (%v)", first.PID, second.PID, err)
	}
}

// localAgent opens a local tunnel, closed when the test ends, and starts
// its agent.
func localAgent(t *testing.T, name string) (*tunnel.Tunnel, agent.Hello) {
	t.Helper()
	tun := tunnel.New(tunnel.Local(name), tunnel.Options{Output: io.Discard})
	t.Cleanup(func() { tun.Close() })
	peer, err := tun.Peer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tun, peer
}

// processExists reports whether pid is in the process table (a zombie
// included).
func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
