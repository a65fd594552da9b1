package plan

import (
	"github.com/zclconf/go-cty/cty"
)

// ArgSpec describes one argument of a builtin or of a tunnel kind.
type ArgSpec struct {
	Name string
	// Type is the type the value is converted to. cty.DynamicPseudoType
	// accepts any value and leaves the check to the builtin: exec's
	// command, for one, is a string (run by a shell) or a list (run as is).
	Type      cty.Type
	Required  bool
	Sensitive bool      // the value is marked sensitive wherever it flows
	Default   cty.Value // used when the argument is absent; cty.NilVal means null
}

// FunctionSpec is the argument spec of a builtin or a tunnel kind.
type FunctionSpec struct {
	Name      string
	Args      []ArgSpec
	CheckMode bool // the builtin honours check mode (unused for tunnel kinds)
	// Result is the type of the builtin's result, when it is known ahead of
	// time; references to it (task.NAME.ATTR) are then checked by validate.
	// cty.NilType or cty.DynamicPseudoType leaves them unchecked.
	Result cty.Type
}

// Arg returns the named argument's spec.
func (s FunctionSpec) Arg(name string) (ArgSpec, bool) {
	for _, a := range s.Args {
		if a.Name == name {
			return a, true
		}
	}
	return ArgSpec{}, false
}

// Schemas is what the loader needs to know about the world: the argument
// specs of the builtins and of the tunnel kinds. The engine adapts its
// registries to it, so this package imports neither.
type Schemas interface {
	Builtin(name string) (FunctionSpec, bool)
	Builtins() []string
	TunnelKind(name string) (FunctionSpec, bool)
	TunnelKinds() []string
}

// StaticSchemas is a Schemas held in two maps, for tests, examples and
// library users who declare their functions by hand.
type StaticSchemas struct {
	BuiltinSpecs map[string]FunctionSpec
	KindSpecs    map[string]FunctionSpec
}

var _ Schemas = StaticSchemas{}

func (s StaticSchemas) Builtin(name string) (FunctionSpec, bool) {
	f, ok := s.BuiltinSpecs[name]
	return f, ok
}

func (s StaticSchemas) Builtins() []string { return sortedKeys(s.BuiltinSpecs) }

func (s StaticSchemas) TunnelKind(name string) (FunctionSpec, bool) {
	f, ok := s.KindSpecs[name]
	return f, ok
}

func (s StaticSchemas) TunnelKinds() []string { return sortedKeys(s.KindSpecs) }

// tunnelMetaArgs are decoded by the loader for every tunnel kind.
var tunnelMetaArgs = []string{"for_each", "count", "via"}

// taskMetaArgs are decoded by the loader for every builtin. A builtin may
// declare an argument of the same name (exec's timeout); it then receives
// the value too.
var taskMetaArgs = []string{
	"when", "for_each", "retries", "until", "delay", "timeout",
	"allow_failure", "changed_when", "check_mode", "sensitive",
}
