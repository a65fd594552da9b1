// Package plantest holds what tests of plan and its users share: a
// Schemas with the argument specs of chopplan's builtins and tunnel kinds,
// written out by hand so that plan's tests need neither package.
package plantest

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/plan"
)

func arg(name string, ty cty.Type) plan.ArgSpec { return plan.ArgSpec{Name: name, Type: ty} }

func required(name string, ty cty.Type) plan.ArgSpec {
	return plan.ArgSpec{Name: name, Type: ty, Required: true}
}

// ExecResult is the exec builtin's result type.
var ExecResult = cty.Object(map[string]cty.Type{
	"rc": cty.Number, "stdout": cty.String, "stderr": cty.String, "duration_ms": cty.Number,
})

// Schemas returns specs shaped like the real registries'.
func Schemas() plan.StaticSchemas {
	dyn := cty.DynamicPseudoType
	str := cty.String
	builtins := []plan.FunctionSpec{
		{Name: "ping", CheckMode: true, Result: cty.Object(map[string]cty.Type{"pong": cty.Bool})},
		{Name: "facts", CheckMode: true, Args: []plan.ArgSpec{arg("subset", cty.List(str))}, Result: dyn},
		{Name: "exec", Args: []plan.ArgSpec{
			required("command", dyn), arg("env", cty.Map(str)), arg("dir", str), arg("stdin", str),
			arg("timeout", dyn), arg("creates", str), arg("removes", str), arg("allow_failure", cty.Bool),
			{Name: "ok_codes", Type: cty.List(cty.Number), Default: cty.ListVal([]cty.Value{cty.Zero})},
		}, Result: ExecResult},
		{Name: "put", CheckMode: true, Args: []plan.ArgSpec{
			required("src", str), required("dest", str), arg("mode", str), arg("owner", str), arg("group", str),
		}, Result: cty.Object(map[string]cty.Type{"path": str, "sha256": str})},
		{Name: "fetch", Args: []plan.ArgSpec{required("src", str), required("dest", str)}, Result: cty.Object(map[string]cty.Type{"path": str})},
		{Name: "stat", CheckMode: true, Args: []plan.ArgSpec{required("path", str), {Name: "checksum", Type: cty.Bool, Default: cty.False}},
			Result: cty.Object(map[string]cty.Type{"exists": cty.Bool, "size": cty.Number, "mode": str, "sha256": str})},
		{Name: "file", CheckMode: true, Args: []plan.ArgSpec{
			required("path", str), {Name: "state", Type: str, Default: cty.StringVal("file")},
			arg("mode", str), arg("owner", str), arg("group", str), arg("content", str),
		}, Result: dyn},
		{Name: "template", CheckMode: true, Args: []plan.ArgSpec{
			required("src", str), required("dest", str), arg("vars", dyn), arg("mode", str),
		}, Result: dyn},
		{Name: "line", CheckMode: true, Args: []plan.ArgSpec{
			required("path", str), required("line", str), arg("regexp", str),
			{Name: "state", Type: str, Default: cty.StringVal("present")},
		}, Result: dyn},
		{Name: "script", Args: []plan.ArgSpec{required("src", str), arg("args", cty.List(str)), {Name: "secret_env", Type: cty.Map(str), Sensitive: true}}, Result: ExecResult},
		{Name: "wait_for", Args: []plan.ArgSpec{arg("port", cty.Number), arg("host", str), arg("path", str), arg("timeout", dyn)}, Result: dyn},
	}
	kinds := []plan.FunctionSpec{
		{Name: "local"},
		{Name: "sudo", Args: []plan.ArgSpec{arg("user", str)}},
		{Name: "ssh", Args: []plan.ArgSpec{
			required("host", str), arg("user", str), {Name: "port", Type: cty.Number, Default: cty.NumberIntVal(22)},
			arg("identity_file", str), arg("known_hosts", str), arg("host_key_checking", str),
			arg("sudo", cty.Bool), arg("sudo_user", str), {Name: "sudo_password", Type: str, Sensitive: true},
			arg("jump", str), arg("connect_timeout", dyn),
		}},
		{Name: "docker", Args: []plan.ArgSpec{required("container", str)}},
		{Name: "docker-image", Args: []plan.ArgSpec{required("image", str), arg("keep", cty.Bool), arg("name", str)}},
		{Name: "exec", Args: []plan.ArgSpec{required("command", cty.List(str))}},
	}
	s := plan.StaticSchemas{BuiltinSpecs: map[string]plan.FunctionSpec{}, KindSpecs: map[string]plan.FunctionSpec{}}
	for _, b := range builtins {
		s.BuiltinSpecs[b.Name] = b
	}
	for _, k := range kinds {
		s.KindSpecs[k.Name] = k
	}
	return s
}
