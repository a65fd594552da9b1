package builtins_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chopplan/chopplan/agent"
)

// freePort returns a TCP port on loopback that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// later runs fn after a short pause, while the call under test waits.
func later(fn func()) {
	go func() {
		time.Sleep(200 * time.Millisecond)
		fn()
	}()
}

func waitOK(t *testing.T, args map[string]any) {
	t.Helper()
	args["interval"] = "50ms"
	args["timeout"] = "30s" // a bound against a hang, not a measurement
	res := mustCall(t, local(t), "wait_for", args, false)
	if !res.GetAttr("ready").True() || res.GetAttr("changed").True() {
		t.Errorf("result %s", show(res))
	}
}

func TestWaitForPortStarted(t *testing.T) {
	port := freePort(t)
	later(func() {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	})
	waitOK(t, map[string]any{"port": port})
}

func TestWaitForPortStopped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	later(func() { l.Close() })
	waitOK(t, map[string]any{"port": l.Addr().(*net.TCPAddr).Port, "state": "stopped"})
}

func TestWaitForPath(t *testing.T) {
	dir := t.TempDir()
	later(func() { os.WriteFile(dir+"/ready", nil, 0o644) })
	waitOK(t, map[string]any{"path": dir + "/ready"})

	log := dir + "/app.log"
	writeFile(t, log, "starting\n", 0o644)
	later(func() { os.WriteFile(log, []byte("starting\nlistening on :8080\n"), 0o644) })
	waitOK(t, map[string]any{"path": log, "contains": `listening on :\d+`})

	later(func() { os.Remove(dir + "/ready") })
	waitOK(t, map[string]any{"path": dir + "/ready", "state": "absent", "delay": "10ms"})
}

func TestWaitForCommand(t *testing.T) {
	dir := t.TempDir()
	later(func() { os.WriteFile(dir+"/flag", nil, 0o644) })
	waitOK(t, map[string]any{"command": []string{"test", "-e", dir + "/flag"}})
	waitOK(t, map[string]any{"command": "test -e " + dir + "/flag"})
}

func TestWaitForTimeout(t *testing.T) {
	tun := local(t)
	port := freePort(t)
	_, err := call(tun, "wait_for", map[string]any{"port": port, "timeout": "300ms", "interval": "50ms"}, false)
	wantError(t, err, "waited 300ms for port 127.0.0.1:"+strconv.Itoa(port)+" to be started")
	wantError(t, err, "last seen: dial tcp 127.0.0.1:"+strconv.Itoa(port)+": connect: connection refused")
	var re *agent.RemoteError
	if errors.As(err, &re) && (re.Value.IsNull() || re.Value.GetAttr("ready").True()) {
		t.Errorf("the failure's result: %s", show(re.Value))
	}

	dir := t.TempDir()
	writeFile(t, dir+"/log", "booting\n", 0o644)
	_, err = call(tun, "wait_for", map[string]any{"path": dir + "/log", "contains": "ready", "timeout": "200ms", "interval": "50ms"}, false)
	wantError(t, err, "last seen: "+dir+"/log exists but does not match ready")
	_, err = call(tun, "wait_for", map[string]any{"command": "echo not yet >&2; exit 1", "timeout": "200ms", "interval": "50ms"}, false)
	wantError(t, err, "last seen: exit status 1: not yet")
}

// TestWaitForCancel cancels a wait that would otherwise last a minute.
func TestWaitForCancel(t *testing.T) {
	tun := local(t)
	ctx, cancel := context.WithCancel(context.Background())
	later(cancel)
	_, err := tun.Call(ctx, "wait_for", map[string]any{"path": t.TempDir() + "/never", "interval": "50ms"})
	var re *agent.RemoteError
	if !errors.Is(err, context.Canceled) && !(errors.As(err, &re) && re.Kind == agent.KindCancelled) {
		t.Fatalf("error %v, want the call cancelled", err)
	}
	if v, err := tun.Call(context.Background(), "ping", nil); err != nil || v.AsString() != "pong" {
		t.Errorf("the agent after the cancel: %v %v", v, err)
	}
}

// TestWaitForCheckMode looks once and reports, without waiting or failing.
func TestWaitForCheckMode(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	res := mustCall(t, tun, "wait_for", map[string]any{"path": dir + "/never", "timeout": "1h"}, true)
	if res.GetAttr("ready").True() || !res.GetAttr("attempts").RawEquals(intVal(1)) {
		t.Errorf("result %s", show(res))
	}
	res = mustCall(t, tun, "wait_for", map[string]any{"path": dir}, true)
	if !res.GetAttr("ready").True() {
		t.Errorf("result %s", show(res))
	}
}

func TestWaitForErrors(t *testing.T) {
	tun := local(t)
	cases := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{}, "give exactly one of port, path and command"},
		{map[string]any{"port": 80, "path": "/"}, "give exactly one of port, path and command"},
		{map[string]any{"port": 70000}, "port 70000 is out of range"},
		{map[string]any{"port": 80, "state": "present"}, `with port, state must be "started" or "stopped"`},
		{map[string]any{"path": "/", "state": "started"}, `with path, state must be "present" or "absent"`},
		{map[string]any{"port": 80, "contains": "x"}, "contains is only for path"},
		{map[string]any{"path": "/", "contains": "("}, "contains: error parsing regexp"},
		{map[string]any{"command": "true", "state": "started"}, "state is only for port and path"},
		{map[string]any{"path": "/", "timeout": "soon"}, `timeout: time: invalid duration "soon"`},
		{map[string]any{"path": "/", "interval": -1}, "interval must not be negative"},
	}
	for _, tc := range cases {
		_, err := call(tun, "wait_for", tc.args, false)
		wantError(t, err, tc.want)
	}
}
