package testenv

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestNetnsHostReachableThenCutOff(t *testing.T) {
	t.Parallel()
	h := NewNetnsHost(t, t.Name())
	out, err := h.Exec("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " "+h.IP()+"/30 ") {
		t.Fatalf("address %s not inside the namespace: %v: %s", h.IP(), err, out)
	}

	s := h.StartSSHD(t, SSHDOptions{})
	if s.Addr() != h.IP()+":22" {
		t.Errorf("Addr() = %s, want %s:22", s.Addr(), h.IP())
	}
	// SSH_CONNECTION names the client address: the veth's, proving the
	// login crossed the pair rather than some other path.
	conn := strings.Fields(output(t, s.Dial(t), "id -un; echo $SSH_CONNECTION"))
	if len(conn) != 5 || conn[0] != s.User() || conn[1] != h.GatewayIP() {
		t.Errorf("got %q, want %s logged in from %s", conn, s.User(), h.GatewayIP())
	}

	if err := h.CutOff(); err != nil {
		t.Fatal(err)
	}
	// The unreachable route keeps the address from following the default
	// route off the machine while the link is down: the kernel answers
	// EHOSTUNREACH instead of picking a gateway.
	route, err := exec.Command("ip", "route", "get", h.IP()).CombinedOutput()
	if err == nil || !strings.Contains(string(route), "No route to host") {
		t.Errorf("while cut off, ip route get %s = %v: %q, want No route to host", h.IP(), err, route)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), 3*time.Second); err == nil {
		c.Close()
		t.Fatal("host still reachable after CutOff")
	}

	if err := h.Restore(); err != nil {
		t.Fatal(err)
	}
	var dialErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp", s.Addr(), time.Second); dialErr == nil {
			c.Close()
			break
		}
	}
	if dialErr != nil {
		t.Fatalf("host unreachable after Restore: %v", dialErr)
	}
	if got := output(t, s.Dial(t), "id -un"); got != s.User() {
		t.Errorf("after Restore: id -un = %q", got)
	}
}

func TestNetnsHostsAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := NewNetnsHost(t, "a"), NewNetnsHost(t, "b")
	if a.Name() == b.Name() || a.IP() == b.IP() {
		t.Fatalf("hosts share a name or address: %s %s, %s %s", a.Name(), a.IP(), b.Name(), b.IP())
	}
	// Each host reaches this machine's side of its own pair and nothing
	// else: it has no default route, so no packet of its can leave.
	if out, err := a.Exec("ip", "route", "get", a.GatewayIP()).CombinedOutput(); err != nil {
		t.Errorf("a cannot route to its gateway: %v: %s", err, out)
	}
	if out, err := a.Exec("ip", "route", "get", b.IP()).CombinedOutput(); err == nil {
		t.Errorf("a has a route to b: %s", out)
	}
}
