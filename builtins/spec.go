package builtins

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// Arg describes one argument of a builtin. The plan loader checks task
// arguments against these before anything connects.
type Arg struct {
	Name      string
	Type      cty.Type  // cty.DynamicPseudoType accepts any value
	Required  bool      // an argument without a default that must be given
	Default   cty.Value // used when the argument is absent; cty.NilVal means null
	Sensitive bool      // the value is masked wherever it is shown
	Doc       string
}

// Func is the Go code of a builtin. args is an object with exactly the
// attributes of the spec's Args, converted to their types and defaulted.
type Func func(cc agent.CallContext, args cty.Value) (cty.Value, error)

// Spec declares a builtin: its name, arguments, result and behaviour.
type Spec struct {
	Name string
	Doc  string
	Args []Arg
	// Result is the type of the value Run returns (cty.DynamicPseudoType when it varies).
	Result cty.Type
	// CheckMode is true when Run honours CallContext.Check(): it reports
	// what it would change without changing anything.
	CheckMode bool
	// Idempotent is true when running the builtin twice with the same
	// arguments changes nothing the second time.
	Idempotent bool
	Run        Func
}

// Arg returns the named argument spec.
func (s *Spec) Arg(name string) (Arg, bool) {
	for _, a := range s.Args {
		if a.Name == name {
			return a, true
		}
	}
	return Arg{}, false
}
