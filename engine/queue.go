package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/tunnel"
)

// ErrNotCompleted is AsyncResult.Value's error before the result is in.
var ErrNotCompleted = errors.New("engine: the operation has not completed")

// Queue holds a FIFO of operations per host. Run starts every host's first
// operation at once and keeps each host busy: a host never waits for
// another, so a queue of many operations finishes sooner than the same
// operations run group by group. Operations on one host run in the order
// they were queued; a failed operation does not stop the ones after it.
type Queue struct {
	mu      sync.Mutex
	cond    sync.Cond
	hosts   map[string]*hostQueue
	pending int // operations queued or running, on all hosts
	ctx     context.Context
	running bool
}

type hostQueue struct {
	ops    []func(context.Context)
	active bool // a worker goroutine is draining ops
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{hosts: map[string]*hostQueue{}}
	q.cond.L = &q.mu
	return q
}

// AsyncResult is the deferred result of a queued operation: a GroupResult
// over the hosts of its target, complete when every one has run it.
type AsyncResult[T any] struct {
	mu        sync.Mutex
	res       *GroupResult[T]
	remaining int
	done      chan struct{}
	callbacks []func(*GroupResult[T])
}

// Done is closed when the result is complete.
func (a *AsyncResult[T]) Done() <-chan struct{} { return a.done }

// Value returns the result, or ErrNotCompleted before it is complete.
func (a *AsyncResult[T]) Value() (*GroupResult[T], error) {
	select {
	case <-a.done:
		return a.res, nil
	default:
		return nil, ErrNotCompleted
	}
}

// Wait blocks until the result is complete or ctx ends.
func (a *AsyncResult[T]) Wait(ctx context.Context) (*GroupResult[T], error) {
	select {
	case <-a.done:
		return a.res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WithCallback calls fn with the result as soon as it is complete (at once
// if it already is). fn runs on a queue worker and may queue more
// operations; the queue's Run waits for those too.
func (a *AsyncResult[T]) WithCallback(fn func(*GroupResult[T])) *AsyncResult[T] {
	a.mu.Lock()
	select {
	case <-a.done:
		a.mu.Unlock()
		fn(a.res)
	default:
		a.callbacks = append(a.callbacks, fn)
		a.mu.Unlock()
	}
	return a
}

func (a *AsyncResult[T]) complete(host string, v T, err error) {
	a.mu.Lock()
	a.res.set(host, v, err)
	a.remaining--
	if a.remaining > 0 {
		a.mu.Unlock()
		return
	}
	cbs := a.callbacks
	a.callbacks = nil
	close(a.done)
	a.mu.Unlock()
	for _, cb := range cbs {
		cb(a.res)
	}
}

// enqueue adds op for every tunnel of target and returns its AsyncResult.
func enqueue[T any](q *Queue, target Target, op func(context.Context, *tunnel.Tunnel) (T, error)) *AsyncResult[T] {
	tunnels := NewGroup(target).tunnels
	a := &AsyncResult[T]{res: newGroupResult[T](), remaining: len(tunnels), done: make(chan struct{})}
	if len(tunnels) == 0 {
		close(a.done)
		return a
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range tunnels {
		hq := q.hosts[t.Name()]
		if hq == nil {
			hq = &hostQueue{}
			q.hosts[t.Name()] = hq
		}
		hq.ops = append(hq.ops, func(ctx context.Context) {
			v, err := op(ctx, t)
			a.complete(t.Name(), v, err)
		})
		q.pending++
		if q.running && !hq.active {
			hq.active = true
			go q.work(hq)
		}
	}
	return a
}

// Call queues a Call of fn with args on every tunnel of target.
func (q *Queue) Call(target Target, fn string, args any) *AsyncResult[cty.Value] {
	return enqueue(q, target, func(ctx context.Context, t *tunnel.Tunnel) (cty.Value, error) {
		return t.Call(ctx, fn, args)
	})
}

// Connect queues a Connect on every tunnel of target.
func (q *Queue) Connect(target Target) *AsyncResult[struct{}] {
	return enqueue(q, target, func(ctx context.Context, t *tunnel.Tunnel) (struct{}, error) {
		return struct{}{}, t.Connect(ctx)
	})
}

// Put queues a Put on every tunnel of target.
func (q *Queue) Put(target Target, localPath, remotePath string, opts *tunnel.PutOptions) *AsyncResult[tunnel.PutResult] {
	return enqueue(q, target, func(ctx context.Context, t *tunnel.Tunnel) (tunnel.PutResult, error) {
		return t.Put(ctx, localPath, remotePath, opts)
	})
}

// Fetch queues a Fetch on every tunnel of target; localTemplate's "{host}"
// is replaced by each host's name.
func (q *Queue) Fetch(target Target, remotePath, localTemplate string) *AsyncResult[tunnel.FetchResult] {
	return enqueue(q, target, func(ctx context.Context, t *tunnel.Tunnel) (tunnel.FetchResult, error) {
		return t.Fetch(ctx, remotePath, expandHost(localTemplate, t.Name()))
	})
}

// Run runs every queued operation, and those queued by callbacks while it
// runs, and returns when none is left. When ctx ends, operations still
// queued fail with its error and Run returns it.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.running {
		q.mu.Unlock()
		return errors.New("engine: Queue.Run is already running")
	}
	q.running, q.ctx = true, ctx
	for _, hq := range q.hosts {
		if len(hq.ops) > 0 && !hq.active {
			hq.active = true
			go q.work(hq)
		}
	}
	for q.pending > 0 {
		q.cond.Wait()
	}
	q.running = false
	q.mu.Unlock()
	return ctx.Err()
}

// work drains one host's FIFO, one operation at a time.
func (q *Queue) work(hq *hostQueue) {
	q.mu.Lock()
	for len(hq.ops) > 0 {
		op := hq.ops[0]
		hq.ops = hq.ops[1:]
		ctx := q.ctx
		q.mu.Unlock()
		op(ctx)
		q.mu.Lock()
		q.pending--
		q.cond.Broadcast()
	}
	hq.active = false
	q.mu.Unlock()
}
