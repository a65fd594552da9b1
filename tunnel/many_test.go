package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
)

// 500 local tunnels open at once in one process, all answering. (A
// select()-based controller fails past about 300.)
func TestFiveHundredTunnels(t *testing.T) {
	ctx := context.Background()
	const n = 500
	tuns := make([]*tunnel.Tunnel, n)
	for i := range tuns {
		tuns[i] = tunnel.New(tunnel.Local(fmt.Sprint("t", i)), tunnel.Options{Output: io.Discard})
	}
	defer func() {
		var wg sync.WaitGroup
		for _, tun := range tuns {
			wg.Add(1)
			go func() { defer wg.Done(); tun.Close() }()
		}
		wg.Wait()
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32) // connection set-ups in flight, as the engine bounds them
	for _, tun := range tuns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			err := tun.Connect(ctx)
			<-sem
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// All open at once: every agent answers, with a pid of its own.
	pids := map[int]bool{}
	for _, tun := range tuns {
		p, err := tun.Peer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tun.Call(ctx, "ping", nil); err != nil {
			t.Fatalf("%s: %v", tun.Name(), err)
		}
		pids[p.PID] = true
	}
	if len(pids) != n {
		t.Fatalf("%d distinct agents, want %d", len(pids), n)
	}
}
