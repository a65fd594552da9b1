package tunnel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestViaLocalContract(t *testing.T) {
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			near := tunnel.New(tunnel.Local("near"), tunnel.Options{Output: out})
			t.Cleanup(func() { near.Close() })
			return tunnel.New(tunnel.Via(near, tunnel.Local("far")), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: t.TempDir(),
	})
}

func TestViaDepth(t *testing.T) {
	ctx := context.Background()
	out := &tunneltest.SyncBuffer{}
	near := tunnel.New(tunnel.Local("near"), tunnel.Options{Output: out})
	defer near.Close()
	far := tunnel.New(tunnel.Via(near, tunnel.Local("far")), tunnel.Options{Output: out})
	defer far.Close()
	peer, err := far.Peer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nearPeer, _ := near.Peer(ctx)
	if peer.Depth != 2 || peer.PID == nearPeer.PID {
		t.Fatalf("far agent hello = %+v (near pid %d)", peer, nearPeer.PID)
	}
	farther := tunnel.New(tunnel.Via(far, tunnel.Local("farther")), tunnel.Options{Output: out})
	defer farther.Close()
	_, err = farther.Call(ctx, "ping", nil)
	if err == nil || !strings.Contains(err.Error(), "depth 3 exceeds the limit of 2") {
		t.Fatalf("depth 3 with the default limit: %v", err)
	}
	// The limit is given to each agent as it starts: a deeper chain needs
	// it raised from the first hop.
	opts := tunnel.Options{Output: out, MaxDepth: 3}
	near3 := tunnel.New(tunnel.Local("near3"), opts)
	defer near3.Close()
	far3 := tunnel.New(tunnel.Via(near3, tunnel.Local("far3")), opts)
	defer far3.Close()
	deep := tunnel.New(tunnel.Via(far3, tunnel.Local("deep")), opts)
	defer deep.Close()
	if p, err := deep.Peer(ctx); err != nil || p.Depth != 3 {
		t.Fatalf("depth 3 with MaxDepth 3: %+v, %v", p, err)
	}
}

func TestViaSudo(t *testing.T) {
	testenv.Root(t)
	name := testenv.SudoUser(t)
	ctx := context.Background()
	near := tunnel.New(tunnel.Local("near"), tunnel.Options{})
	defer near.Close()
	far := tunnel.New(tunnel.Via(near, tunnel.Sudo("", name)), tunnel.Options{})
	defer far.Close()
	v, err := far.Call(ctx, "facts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.GetAttr("user").AsString() != name {
		t.Fatalf("via sudo runs as %s", v.GetAttr("user").AsString())
	}
}
