package tunnel_test

import (
	"context"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
)

func TestLocalPing(t *testing.T) {
	tun := tunnel.New(tunnel.Local("l1"), tunnel.Options{})
	defer tun.Close()
	v, err := tun.Call(context.Background(), "ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.AsString() != "pong" {
		t.Fatalf("ping = %#v", v)
	}
	v, err = tun.Call(context.Background(), "exec", map[string]any{"command": []string{"sh", "-c", "echo hi; echo err >&2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%#v", v.GetAttr("stdout"))
}
