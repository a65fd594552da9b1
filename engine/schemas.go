package engine

import (
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/builtins"
	"github.com/chopplan/chopplan/plan"
)

// registrySchemas shows the plan loader what a plan may call: the
// controller actions (put, fetch, template, script: tasks that read or
// write local files, so part of them runs here), then the builtins
// registry (whatever the program registered, custom functions included),
// and the tunnel kinds' argument specs.
type registrySchemas struct {
	reg *builtins.Registry
}

var _ plan.Schemas = registrySchemas{}

// Schemas is what plans are checked against: reg's builtins (nil means
// builtins.Default) under the engine's controller actions.
func Schemas(reg *builtins.Registry) plan.Schemas {
	if reg == nil {
		reg = builtins.Default
	}
	return registrySchemas{reg: reg}
}

func (s registrySchemas) Builtin(name string) (plan.FunctionSpec, bool) {
	spec, ok := s.spec(name)
	if !ok {
		return plan.FunctionSpec{}, false
	}
	fs := plan.FunctionSpec{Name: spec.Name, CheckMode: spec.CheckMode, Result: spec.Result}
	for _, a := range spec.Args {
		fs.Args = append(fs.Args, plan.ArgSpec{
			Name: a.Name, Type: a.Type, Required: a.Required, Sensitive: a.Sensitive, Default: a.Default,
		})
	}
	return fs, true
}

// spec is the plan-facing spec of name: a controller action's, else the
// registered builtin's.
func (s registrySchemas) spec(name string) (*builtins.Spec, bool) {
	if a, ok := actions[name]; ok {
		return &a.spec, true
	}
	return s.reg.Spec(name)
}

func (s registrySchemas) Builtins() []string {
	names := s.reg.Names()
	for n := range actions {
		if _, ok := s.reg.Spec(n); !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func (s registrySchemas) TunnelKind(name string) (plan.FunctionSpec, bool) {
	for _, k := range tunnelKindSpecs {
		if k.Name == name {
			return k, true
		}
	}
	return plan.FunctionSpec{}, false
}

func (s registrySchemas) TunnelKinds() []string {
	out := make([]string, len(tunnelKindSpecs))
	for i, k := range tunnelKindSpecs {
		out[i] = k.Name
	}
	return out
}

// tunnelKindSpecs are the arguments of each tunnel kind in a plan's tunnel
// block (via, for_each and count are the loader's own). exec's command is a
// list: it is run as is, never through a shell.
var tunnelKindSpecs = func() []plan.FunctionSpec {
	str, dyn := cty.String, cty.DynamicPseudoType
	a := func(name string, ty cty.Type) plan.ArgSpec { return plan.ArgSpec{Name: name, Type: ty} }
	req := func(name string, ty cty.Type) plan.ArgSpec { return plan.ArgSpec{Name: name, Type: ty, Required: true} }
	return []plan.FunctionSpec{
		{Name: "docker", Args: []plan.ArgSpec{req("container", str)}},
		{Name: "docker-image", Args: []plan.ArgSpec{req("image", str), a("keep", cty.Bool)}},
		{Name: "exec", Args: []plan.ArgSpec{req("command", cty.List(str))}},
		{Name: "local"},
		{Name: "ssh", Args: []plan.ArgSpec{
			req("host", str), a("user", str), a("port", cty.Number), a("identity_file", str),
			a("known_hosts", str), a("host_key_checking", str), a("sudo", cty.Bool), a("sudo_user", str),
			{Name: "sudo_password", Type: str, Sensitive: true}, a("jump", str), a("connect_timeout", dyn),
			{Name: "passphrase", Type: str, Sensitive: true}, a("ssh_config", str),
		}},
		{Name: "sudo", Args: []plan.ArgSpec{a("user", str)}},
	}
}()
