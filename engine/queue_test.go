package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/tunnel"
)

func TestQueueOrderPerHostAndCallbacks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := group(locals(nil, "a", "b")...)
	defer g.Close()
	a, b := g.Tunnels()[0], g.Tunnels()[1]
	q := engine.NewQueue()
	// Each operation appends its number to its host's file on the target,
	// so the files show the order each host ran its queue in.
	appendOn := func(tun *tunnel.Tunnel, n int) *engine.AsyncResult[cty.Value] {
		cmd := fmt.Sprintf("echo %d >> %s", n, filepath.Join(dir, tun.Name()))
		return q.Call(tun, "exec", map[string]any{"command": cmd})
	}
	var callbacks atomic.Int32
	first := appendOn(a, 1)
	if _, err := first.Value(); !errors.Is(err, engine.ErrNotCompleted) {
		t.Fatalf("Value before Run: %v", err)
	}
	first.WithCallback(func(*engine.GroupResult[cty.Value]) { callbacks.Add(1) })
	appendOn(b, 1)
	for i := 2; i <= 5; i++ {
		appendOn(a, i)
		appendOn(b, i)
	}
	// A callback that queues more work on another host: Run waits for it.
	appendOn(a, 6).WithCallback(func(*engine.GroupResult[cty.Value]) {
		callbacks.Add(1)
		appendOn(b, 7).WithCallback(func(*engine.GroupResult[cty.Value]) { callbacks.Add(1) })
	})
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"a": "1 2 3 4 5 6", "b": "1 2 3 4 5 7"} {
		got, _ := os.ReadFile(filepath.Join(dir, host))
		if s := strings.Join(strings.Fields(string(got)), " "); s != want {
			t.Errorf("host %s ran %q, want %q", host, s, want)
		}
	}
	if n := callbacks.Load(); n != 3 {
		t.Fatalf("%d callbacks ran, want 3", n)
	}
	res, err := first.Value()
	if err != nil || res.Len() != 1 || res.Err() != nil {
		t.Fatalf("first.Value() = %v, %v", res, err)
	}
}

func TestQueueGroupResultCompletesOnEveryHost(t *testing.T) {
	ctx := context.Background()
	g := group(locals(nil, "a", "b", "c")...)
	defer g.Close()
	q := engine.NewQueue()
	r := q.Call(g, "ping", nil)
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Wait(ctx)
	if err != nil || res.Len() != 3 || res.Err() != nil {
		t.Fatalf("group result = %v, %v", res, err)
	}
}

func TestQueueFailureDoesNotStopHost(t *testing.T) {
	ctx := context.Background()
	g := group(locals(nil, "a")...)
	defer g.Close()
	q := engine.NewQueue()
	bad := q.Call(g, "no.such.function", nil)
	good := q.Call(g, "ping", nil)
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := bad.Value(); r.Failed() != 1 {
		t.Fatalf("bad call: %d failed", r.Failed())
	}
	if r, _ := good.Value(); r.Err() != nil {
		t.Fatalf("call after a failure: %v", r.Err())
	}
}
