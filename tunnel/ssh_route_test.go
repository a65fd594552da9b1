package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
)

func TestSSHProxyJumpFromSSHConfig(t *testing.T) {
	t.Parallel()
	jump := testenv.StartSSHD(t, testenv.SSHDOptions{LogLevel: "DEBUG1"})
	target := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: jump.ClientKeys()})
	config := testenv.WriteSSHConfig(t,
		testenv.SSHConfigHost{Alias: "bastion", SSHD: jump},
		testenv.SSHConfigHost{Alias: "inner", SSHD: target, ProxyJump: "bastion"},
	)
	tun := newSSH(t, tunnel.SSHConfig{Host: "inner", ConfigFile: config, NoAgent: true}, nil)
	peer, err := tun.Peer(context.Background())
	if err != nil {
		t.Fatalf("through the jump host: %v", err)
	}
	if tun.Name() != "inner" || peer.PID == 0 {
		t.Fatalf("name %q, peer %+v", tun.Name(), peer)
	}
	// The jump host's sshd opened the connection to the target for us.
	want := fmt.Sprintf("target %s port %d", target.Host(), target.Port())
	if !strings.Contains(jump.Log(), want) {
		t.Fatalf("the jump host's log does not show a forward to %s:\n%s", target.Addr(), jump.Log())
	}
}

func TestSSHUnreachable(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tun := newSSH(t, tunnel.SSHConfig{Host: "127.0.0.1", Port: port, ConfigFile: "none", NoAgent: true}, nil)
	err = ping(t, tun)
	var ue *tunnel.UnreachableError
	var de *tunnel.DialError
	if !errors.As(err, &ue) || !errors.As(err, &de) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: err = %v", err)
	}
	t.Log(err)
}

func TestSSHHostCutOffMidRun(t *testing.T) {
	t.Parallel()
	ns := testenv.NewNetnsHost(t, "cutoff")
	far := ns.StartSSHD(t, testenv.SSHDOptions{})
	near := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: far.ClientKeys()})
	cfgFar := sshConfigFor(far)
	cfgFar.KeepAliveInterval, cfgFar.KeepAliveCountMax = 200*time.Millisecond, 2
	cfgFar.ConnectTimeout = 2 * time.Second
	farTun := newSSH(t, cfgFar, nil)
	nearTun := newSSH(t, sshConfigFor(near), nil)
	ctx := context.Background()
	for _, tun := range []*tunnel.Tunnel{farTun, nearTun} {
		if err := ping(t, tun); err != nil {
			t.Fatal(err)
		}
	}

	// A call in flight on the far host when it drops off the network.
	inFlight := make(chan error, 1)
	go func() {
		_, err := farTun.Call(ctx, "tunneltest.block", nil)
		inFlight <- err
	}()
	var wg sync.WaitGroup
	nearErrs := make(chan error, 50)
	wg.Add(1)
	go func() { // the other host keeps working throughout
		defer wg.Done()
		for i := range 50 {
			_, err := nearTun.Call(ctx, "tunneltest.echo", map[string]any{"value": i})
			nearErrs <- err
		}
	}()
	if err := ns.CutOff(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-inFlight:
		if !agent.IsConnError(err) || !strings.Contains(err.Error(), "stopped answering") {
			t.Fatalf("call in flight on a host cut off: %v", err)
		}
		t.Log(err)
	case <-time.After(60 * time.Second):
		t.Fatal("the call in flight on a cut-off host never ended")
	}
	// The next call tries to reconnect and reports the host unreachable.
	err := ping(t, farTun)
	var ue *tunnel.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("call to a cut-off host: %v", err)
	}
	t.Log(err)
	wg.Wait()
	close(nearErrs)
	for err := range nearErrs {
		if err != nil {
			t.Fatalf("the other host failed: %v", err)
		}
	}
}
