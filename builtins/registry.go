// Package builtins is the registry of functions an agent can run: each
// declares its argument spec, result type and check-mode support next to
// its code. The plan loader reads the specs to check task arguments without
// running anything; the agent looks functions up here by name. Functions a
// library user registers live in the same registry, and because the user's
// own binary is the agent, they run on every target.
package builtins

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/chopplan/chopplan/agent"
)

// Registry maps names to builtin specs. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	specs    map[string]*Spec
	handlers map[string]agent.Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{specs: map[string]*Spec{}, handlers: map[string]agent.Handler{}}
}

// Default holds chopplan's builtins and whatever the program registers.
var Default = NewRegistry()

// Register adds spec to the default registry.
func Register(spec Spec) error { return Default.Register(spec) }

// MustRegister is Register for init functions: it panics on a bad spec.
func MustRegister(spec Spec) {
	if err := Default.Register(spec); err != nil {
		panic(err)
	}
}

// Register adds spec. Names are unique; arguments must be named once each.
func (r *Registry) Register(spec Spec) error {
	if spec.Name == "" || len(spec.Name) > 255 {
		return fmt.Errorf("builtins: invalid name %q", spec.Name)
	}
	if spec.Run == nil {
		return fmt.Errorf("builtins: %s has no Run function", spec.Name)
	}
	seen := map[string]bool{}
	for _, a := range spec.Args {
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("builtins: %s: argument %q is empty or repeated", spec.Name, a.Name)
		}
		if a.Type == cty.NilType {
			return fmt.Errorf("builtins: %s: argument %q has no type", spec.Name, a.Name)
		}
		seen[a.Name] = true
	}
	if spec.Result == cty.NilType {
		spec.Result = cty.DynamicPseudoType
	}
	s := &spec
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[spec.Name]; dup {
		return fmt.Errorf("builtins: %s is already registered", spec.Name)
	}
	r.specs[spec.Name] = s
	r.handlers[spec.Name] = func(cc agent.CallContext, args cty.Value) (cty.Value, error) {
		a, err := s.PrepareArgs(args)
		if err != nil {
			return cty.NilVal, agent.Fail(agent.KindBadArguments, cty.NilVal, "%v", err)
		}
		return s.Run(cc, a)
	}
	return nil
}

// Lookup returns the handler for name, checking arguments before it runs:
// the registry is the agent's agent.Functions.
func (r *Registry) Lookup(name string) (agent.Handler, bool) {
	r.mu.RLock()
	h, ok := r.handlers[name]
	r.mu.RUnlock()
	return h, ok
}

// Spec returns the spec registered under name.
func (r *Registry) Spec(name string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// Names lists the registered names in order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.specs))
}

// PrepareArgs checks args (an object, a map, or null for none) against the
// spec and returns an object with every argument: converted to its type,
// defaulted when absent, null when optional without a default.
func (s *Spec) PrepareArgs(args cty.Value) (cty.Value, error) {
	if len(s.Args) == 0 && (args == cty.NilVal || args.IsNull() || (args.IsKnown() && args.LengthInt() == 0)) {
		return cty.EmptyObjectVal, nil
	}
	given := map[string]cty.Value{}
	if args != cty.NilVal && !args.IsNull() {
		ty := args.Type()
		if !ty.IsObjectType() && !ty.IsMapType() {
			return cty.NilVal, fmt.Errorf("%s: arguments must be an object, not %s", s.Name, ty.FriendlyName())
		}
		if !args.IsKnown() {
			return cty.NilVal, fmt.Errorf("%s: arguments are not known yet", s.Name)
		}
		for it := args.ElementIterator(); it.Next(); {
			k, v := it.Element()
			given[k.AsString()] = v
		}
	}
	out := make(map[string]cty.Value, len(s.Args))
	for _, a := range s.Args {
		v, ok := given[a.Name]
		delete(given, a.Name)
		if !ok || v.IsNull() {
			switch {
			case a.Default != cty.NilVal:
				v = a.Default
			case a.Required:
				return cty.NilVal, fmt.Errorf("%s: the argument %q is required", s.Name, a.Name)
			default:
				v = cty.NullVal(a.Type)
			}
		}
		cv, err := convert.Convert(v, a.Type)
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: argument %q: %v", s.Name, a.Name, err)
		}
		out[a.Name] = cv
	}
	for name := range given {
		return cty.NilVal, fmt.Errorf("%s: unsupported argument %q", s.Name, name)
	}
	return cty.ObjectVal(out), nil
}
