package tunnel

import (
	"fmt"
	"sort"
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

var (
	kindsMu sync.RWMutex
	kinds   = map[string]KindFactory{}
)

// RegisterKind makes a kind startable by name, by a via tunnel's near agent.
func RegisterKind(name string, f KindFactory) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[name]; dup {
		panic("tunnel: kind " + name + " registered twice")
	}
	kinds[name] = f
}

// NewKind makes a registered kind from its description.
func NewKind(name string, args cty.Value) (Kind, error) {
	kindsMu.RLock()
	f, ok := kinds[name]
	kindsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("tunnel: unknown kind %q (known: %v)", name, KindNames())
	}
	return f(args)
}

// KindNames lists the registered kinds.
func KindNames() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

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
