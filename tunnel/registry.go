package tunnel

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// Describer is a Kind that can be described as data, so that another agent
// can start it: that is how a via tunnel starts its far end.
type Describer interface {
	// Describe returns the registered kind name and its arguments.
	Describe() (kind string, args cty.Value)
}

// KindFactory makes a Kind from the arguments its Describe returned.
type KindFactory func(args cty.Value) (Kind, error)

// named is a registry of things by name, filled by init functions and read
// concurrently: the kinds (for via tunnels) and the target schemes (for --on).
type named[T any] struct {
	what string
	mu   sync.RWMutex
	m    map[string]T
}

func (r *named[T]) add(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic("tunnel: " + r.what + " " + name + " registered twice")
	}
	if r.m == nil {
		r.m = map[string]T{}
	}
	r.m[name] = v
}

func (r *named[T]) get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

func (r *named[T]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}

var kinds = &named[KindFactory]{what: "kind"}

// RegisterKind makes a kind startable by name, by a via tunnel's near agent.
func RegisterKind(name string, f KindFactory) { kinds.add(name, f) }

// NewKind makes a registered kind from its description.
func NewKind(name string, args cty.Value) (Kind, error) {
	f, ok := kinds.get(name)
	if !ok {
		return nil, fmt.Errorf("tunnel: unknown kind %q (known: %v)", name, KindNames())
	}
	return f(args)
}

// KindNames lists the registered kinds.
func KindNames() []string { return kinds.names() }

// stringArg reads an optional string attribute of a kind's description.
func stringArg(args cty.Value, name string) string {
	v, _ := agent.AttrString(args, name)
	return v
}

func init() {
	RegisterKind("local", func(args cty.Value) (Kind, error) { return Local(stringArg(args, "name")), nil })
	RegisterKind("sudo", func(args cty.Value) (Kind, error) {
		return Sudo(stringArg(args, "name"), stringArg(args, "user")), nil
	})
}
