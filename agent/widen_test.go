package agent

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// widening records the Widen calls of a transport.
type widening struct {
	net.Conn
	mu    sync.Mutex
	calls []bool
}

func (w *widening) Widen(on bool) bool {
	w.mu.Lock()
	w.calls = append(w.calls, on)
	w.mu.Unlock()
	return true
}

type funcMap map[string]Handler

func (m funcMap) Lookup(name string) (Handler, bool) { h, ok := m[name]; return h, ok }

// Serve widens its transport when the first call with a data stream
// starts and narrows it when the last one ends; calls without a stream
// leave it alone.
func TestServeWidensForDataStreams(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	funcs := funcMap{
		"sink": func(cc CallContext, _ cty.Value) (cty.Value, error) {
			started.Done()
			<-release
			io.Copy(io.Discard, cc.Recv())
			return cty.True, nil
		},
	}
	var w *widening
	cl := testAgent(t, funcs, func(ag net.Conn) io.ReadWriteCloser { w = &widening{Conn: ag}; return w })
	ctx := context.Background()
	if _, err := cl.Call(ctx, "ping", cty.EmptyObjectVal, nil); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	if len(w.calls) != 0 {
		t.Fatalf("a call with no data stream widened the transport: %v", w.calls)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for range 2 { // two streams at once: one widening, one narrowing
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cl.Call(ctx, "sink", cty.EmptyObjectVal, &CallOptions{In: bytes.NewReader(make([]byte, 1<<20))}); err != nil {
				t.Error(err)
			}
		}()
	}
	started.Wait() // both calls run on the agent at once
	close(release)
	wg.Wait()
	if _, err := cl.Call(ctx, "ping", cty.EmptyObjectVal, nil); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.calls) == 0 || w.calls[0] != true || w.calls[len(w.calls)-1] != false {
		t.Fatalf("Widen calls %v: want true first and false last", w.calls)
	}
	for i := 1; i < len(w.calls); i++ {
		if w.calls[i] == w.calls[i-1] {
			t.Fatalf("Widen calls %v: each call must undo the one before", w.calls)
		}
	}
}
