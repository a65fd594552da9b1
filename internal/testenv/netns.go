package testenv

import (
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// netnsRange holds the addresses of the project's test hosts. They exist
// only on this machine: each host is a /30 between a veth on the host side
// and its peer inside the namespace.
var netnsRange = netip.MustParsePrefix("10.231.0.0/16")

// cutOffMetric is the metric of the unreachable route that stands behind
// each host's connected route. While a host is cut off its connected route
// is gone, and without this one its address would follow the default
// route off the machine.
const cutOffMetric = 4231

// A NetnsHost is a test host with an address of its own: a network
// namespace joined to this one by a veth pair, so that a test can cut it
// off the network mid-run.
type NetnsHost struct {
	name    string // of the namespace
	hostIf  string // veth end in this namespace
	peerIf  string // veth end in the host's namespace
	subnet  netip.Prefix
	gateway netip.Addr // hostIf's address
	ip      netip.Addr // the host's address

	mu    sync.Mutex
	sshds int
}

// NewNetnsHost creates a network namespace named after name (plus a random
// suffix, so concurrently running test packages never collide) with
// loopback up and an address in 10.231.0.0/16 reachable from this
// namespace. Everything is removed when the test ends, after the processes
// left inside are killed. Needs root and iproute2 (installed with apt when
// missing).
func NewNetnsHost(t testing.TB, name string) *NetnsHost {
	t.Helper()
	Root(t)
	ensure(t, netnsRequirement)
	suffix := randomHex(4)
	h := &NetnsHost{
		name:   "chopplan-" + sanitize(name, 12) + "-" + suffix,
		hostIf: "cp" + suffix + "h", // interface names are at most 15 bytes
		peerIf: "cp" + suffix + "n",
	}
	if _, err := ipCmd("netns", "add", h.name); err != nil {
		Unavailable(t, "network namespaces", err)
	}
	t.Cleanup(h.remove)
	err := withMachineLock("netns", func() error {
		subnet, err := freeSubnet()
		if err != nil {
			return err
		}
		h.subnet = subnet
		h.gateway = subnet.Addr().Next()
		h.ip = h.gateway.Next()
		gw := netip.PrefixFrom(h.gateway, 30).String()
		ip := netip.PrefixFrom(h.ip, 30).String()
		for _, args := range [][]string{
			{"link", "add", h.hostIf, "type", "veth", "peer", "name", h.peerIf, "netns", h.name},
			{"route", "add", "unreachable", subnet.String(), "metric", strconv.Itoa(cutOffMetric)},
			{"addr", "add", gw, "dev", h.hostIf},
			{"link", "set", h.hostIf, "up"},
			{"-n", h.name, "addr", "add", ip, "dev", h.peerIf},
			{"-n", h.name, "link", "set", h.peerIf, "up"},
			{"-n", h.name, "link", "set", "lo", "up"},
		} {
			if _, err := ipCmd(args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: netns host %s: %v", h.name, err)
	}
	return h
}

// freeSubnet picks a /30 of netnsRange that no address or route on the
// machine uses. Called with the "netns" machine lock held, so that two
// test packages cannot pick the same one.
func freeSubnet() (netip.Prefix, error) {
	addrs, err := ipCmd("-4", "-o", "addr", "show")
	if err != nil {
		return netip.Prefix{}, err
	}
	routes, err := ipCmd("-4", "route", "show", "table", "all")
	if err != nil {
		return netip.Prefix{}, err
	}
	used := map[netip.Prefix]bool{}
	for _, m := range regexp.MustCompile(`10\.231\.\d+\.\d+`).FindAllString(addrs+routes, -1) {
		if a, err := netip.ParseAddr(m); err == nil {
			p, _ := a.Prefix(30)
			used[p] = true
		}
	}
	base := netnsRange.Addr().As4()
	for range 1000 {
		n := mrand.IntN(1 << 14) // /30s in a /16
		b := base
		b[2], b[3] = byte(n>>6), byte(n&63)<<2
		p := netip.PrefixFrom(netip.AddrFrom4(b), 30)
		if !used[p] {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /30 in %s", netnsRange)
}

// remove kills what runs in the namespace, then deletes the veth pair, the
// unreachable route and the namespace.
func (h *NetnsHost) remove() {
	if out, err := ipCmd("netns", "pids", h.name); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				killTree(pid)
			}
		}
	}
	ipCmd("link", "del", h.hostIf)
	if h.subnet.IsValid() {
		ipCmd("route", "del", "unreachable", h.subnet.String(), "metric", strconv.Itoa(cutOffMetric))
	}
	ipCmd("netns", "del", h.name)
}

// Name returns the namespace's name, as `ip netns exec NAME` wants it.
func (h *NetnsHost) Name() string { return h.name }

// IP returns the host's address, the one inside the namespace.
func (h *NetnsHost) IP() string { return h.ip.String() }

// GatewayIP returns the address of this side of the veth pair, the one
// the host sees connections come from.
func (h *NetnsHost) GatewayIP() string { return h.gateway.String() }

// Exec returns a command that runs argv inside the namespace.
func (h *NetnsHost) Exec(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.name}, argv...)...)
}

// StartSSHD starts an sshd inside the namespace, listening on IP: on port
// 22 for the first one, as on a real host, and 2222, 2223, … after it.
// opts.ListenIP is ignored.
func (h *NetnsHost) StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	return startSSHD(t, opts, h)
}

func (h *NetnsHost) nextPort() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sshds++
	if h.sshds == 1 {
		return 22
	}
	return 2220 + h.sshds
}

// CutOff takes this side of the veth pair down: the host's processes keep
// running, but new connections to it fail and open ones stall, as when a
// machine drops off the network. Safe to call from any goroutine.
func (h *NetnsHost) CutOff() error {
	_, err := ipCmd("link", "set", h.hostIf, "down")
	return err
}

// Restore undoes CutOff.
func (h *NetnsHost) Restore() error {
	_, err := ipCmd("link", "set", h.hostIf, "up")
	return err
}

func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, tail(out, 300))
	}
	return string(out), nil
}

// sanitize keeps the letters and digits of s, at most n of them, so that a
// test's name can be part of a namespace name.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == n {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "host"
	}
	return b.String()
}
