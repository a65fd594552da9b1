package main

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/builtins"
	"github.com/chopplan/chopplan/plan"
)

// registrySchemas shows the plan loader the builtins registry (whatever the
// program registered, custom functions included) and the tunnel kinds'
// argument specs.
type registrySchemas struct {
	reg *builtins.Registry
}

var _ plan.Schemas = registrySchemas{}

// planSchemas is what commands that load plans check them against.
var planSchemas = func() plan.Schemas { return registrySchemas{reg: builtins.Default} }

func (s registrySchemas) Builtin(name string) (plan.FunctionSpec, bool) {
	spec, ok := s.reg.Spec(name)
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

func (s registrySchemas) Builtins() []string { return s.reg.Names() }

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
		{Name: "docker-image", Args: []plan.ArgSpec{req("image", str), a("keep", cty.Bool), a("name", str)}},
		{Name: "exec", Args: []plan.ArgSpec{req("command", cty.List(str))}},
		{Name: "local"},
		{Name: "ssh", Args: []plan.ArgSpec{
			req("host", str), a("user", str), a("port", cty.Number), a("identity_file", str),
			a("known_hosts", str), a("host_key_checking", str), a("sudo", cty.Bool), a("sudo_user", str),
			{Name: "sudo_password", Type: str, Sensitive: true}, a("jump", str), a("connect_timeout", dyn),
		}},
		{Name: "sudo", Args: []plan.ArgSpec{a("user", str)}},
	}
}()
