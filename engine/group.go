// Package engine runs work on many hosts. It holds the Chopsticks API in Go
// form: Group (one operation on many tunnels in parallel, with set
// operations and Filter), GroupResult, and Queue (a FIFO of operations per
// host, with AsyncResult callbacks); and it compiles plans into per-host
// queues and runs them.
package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/tunnel"
)

// Target is a tunnel or a group: what an operation runs on.
type Target interface {
	Tunnels() []*tunnel.Tunnel
}

// Group is a set of tunnels, compared by host name, that runs operations
// on all of them in parallel.
type Group struct {
	tunnels []*tunnel.Tunnel
}

var _ Target = (*Group)(nil)
var _ Target = (*tunnel.Tunnel)(nil)

// NewGroup makes a group of the targets' tunnels. Host names are the keys
// of results, so a name may appear once: a later tunnel with a name
// already present is the same member and is dropped.
func NewGroup(targets ...Target) *Group {
	g := &Group{}
	seen := map[string]bool{}
	for _, t := range targets {
		for _, tun := range t.Tunnels() {
			if !seen[tun.Name()] {
				seen[tun.Name()] = true
				g.tunnels = append(g.tunnels, tun)
			}
		}
	}
	return g
}

// Tunnels lists the members in order.
func (g *Group) Tunnels() []*tunnel.Tunnel { return append([]*tunnel.Tunnel(nil), g.tunnels...) }

// Names lists the members' host names in order.
func (g *Group) Names() []string {
	out := make([]string, len(g.tunnels))
	for i, t := range g.tunnels {
		out[i] = t.Name()
	}
	return out
}

// Len is the number of members.
func (g *Group) Len() int { return len(g.tunnels) }

func (g *Group) String() string { return "Group(" + strings.Join(g.Names(), ", ") + ")" }

// Union is the group of g's members and then others' members not in g.
func (g *Group) Union(others ...Target) *Group {
	return NewGroup(append([]Target{g}, others...)...)
}

// Intersection is the group of g's members that are also in other.
func (g *Group) Intersection(other Target) *Group {
	in := names(other)
	return g.keep(func(t *tunnel.Tunnel) bool { return in[t.Name()] })
}

// Difference is the group of g's members that are not in other.
func (g *Group) Difference(other Target) *Group {
	in := names(other)
	return g.keep(func(t *tunnel.Tunnel) bool { return !in[t.Name()] })
}

// SymmetricDifference is the group of members in exactly one of g and other.
func (g *Group) SymmetricDifference(other Target) *Group {
	return g.Difference(other).Union(NewGroup(other).Difference(g))
}

func (g *Group) keep(pred func(*tunnel.Tunnel) bool) *Group {
	out := &Group{}
	for _, t := range g.tunnels {
		if pred(t) {
			out.tunnels = append(out.tunnels, t)
		}
	}
	return out
}

func names(t Target) map[string]bool {
	m := map[string]bool{}
	for _, tun := range t.Tunnels() {
		m[tun.Name()] = true
	}
	return m
}

// each runs op on every member at once and gathers the results.
func each[T any](g *Group, op func(*tunnel.Tunnel) (T, error)) *GroupResult[T] {
	res := newGroupResult[T]()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range g.tunnels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := op(t)
			mu.Lock()
			res.set(t.Name(), v, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

// Connect starts every member's agent now rather than on first use.
func (g *Group) Connect(ctx context.Context) *GroupResult[struct{}] {
	return each(g, func(t *tunnel.Tunnel) (struct{}, error) { return struct{}{}, t.Connect(ctx) })
}

// Close ends every member's agent. Members may be used again.
func (g *Group) Close() error {
	each(g, func(t *tunnel.Tunnel) (struct{}, error) { return struct{}{}, t.Close() })
	return nil
}

// Call runs the builtin fn with args on every member in parallel.
func (g *Group) Call(ctx context.Context, fn string, args any) *GroupResult[cty.Value] {
	return each(g, func(t *tunnel.Tunnel) (cty.Value, error) { return t.Call(ctx, fn, args) })
}

// Put copies a local file to every member (see Tunnel.Put); with an
// empty remotePath each host gets its own temp file.
func (g *Group) Put(ctx context.Context, localPath, remotePath string, opts *tunnel.PutOptions) *GroupResult[tunnel.PutResult] {
	return each(g, func(t *tunnel.Tunnel) (tunnel.PutResult, error) { return t.Put(ctx, localPath, remotePath, opts) })
}

// Fetch copies remotePath from every member. localTemplate names each
// local file with "{host}" replaced by the host name (host names are
// unique in a group, so the files are too); an empty template fetches to a
// temp file per host.
func (g *Group) Fetch(ctx context.Context, remotePath, localTemplate string) *GroupResult[tunnel.FetchResult] {
	if localTemplate != "" && len(g.tunnels) > 1 && !strings.Contains(localTemplate, "{host}") {
		res := newGroupResult[tunnel.FetchResult]()
		for _, t := range g.tunnels {
			res.set(t.Name(), tunnel.FetchResult{}, fmt.Errorf("engine: fetch from %d hosts to %q would write one file: put {host} in the local path", len(g.tunnels), localTemplate))
		}
		return res
	}
	return each(g, func(t *tunnel.Tunnel) (tunnel.FetchResult, error) {
		return t.Fetch(ctx, remotePath, expandHost(localTemplate, t.Name()))
	})
}

// Filter runs the builtin fn, which must return a bool, on every member
// and returns the group of those where it returned true (false with
// exclude). If any host cannot be reached or fails to answer, the error
// lists them all and the group is nil.
func (g *Group) Filter(ctx context.Context, fn string, args any, exclude bool) (*Group, error) {
	res := g.Call(ctx, fn, args)
	return filterResult(g, res, exclude, func(v cty.Value) (bool, error) {
		if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
			return false, fmt.Errorf("filter function %s returned %s, not a bool", fn, typeName(v))
		}
		return v.True(), nil
	})
}

// FilterFunc keeps the members for which pred, run on the controller,
// returns true (false with exclude). pred may call the tunnel. Errors
// are gathered as in Filter.
func (g *Group) FilterFunc(ctx context.Context, pred func(context.Context, *tunnel.Tunnel) (bool, error), exclude bool) (*Group, error) {
	res := each(g, func(t *tunnel.Tunnel) (bool, error) { return pred(ctx, t) })
	return filterResult(g, res, exclude, func(b bool) (bool, error) { return b, nil })
}

func filterResult[T any](g *Group, res *GroupResult[T], exclude bool, decide func(T) (bool, error)) (*Group, error) {
	if err := res.Err(); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	bad := newGroupResult[struct{}]()
	for h, v := range res.Successful() {
		ok, err := decide(v)
		if err != nil {
			bad.set(h, struct{}{}, err)
			continue
		}
		keep[h] = ok != exclude
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return g.keep(func(t *tunnel.Tunnel) bool { return keep[t.Name()] }), nil
}

func typeName(v cty.Value) string {
	if v == cty.NilVal {
		return "nothing"
	}
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}

// expandHost fills "{host}" in a local path template (Chopsticks' fetch
// templates), so each host's file has its own name.
func expandHost(template, host string) string { return strings.ReplaceAll(template, "{host}", host) }
