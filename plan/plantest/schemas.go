// Package plantest holds what tests of plan and its users share: a
// Schemas with the argument specs of chopplan's builtins and tunnel kinds.
//
// The specs are a copy of the real ones (engine.Schemas(nil)), kept in
// specs_gen.go so that plan's tests need neither the engine nor the
// builtins. TestSpecsMatchEngine fails when the copy is out of date;
//
//	go test ./plan/plantest -run TestSpecsMatchEngine -update
//
// rewrites it.
package plantest

import "github.com/chopplan/chopplan/plan"

// Schemas returns the builtins' and tunnel kinds' specs, as the engine
// declares them.
func Schemas() plan.StaticSchemas {
	s := plan.StaticSchemas{BuiltinSpecs: map[string]plan.FunctionSpec{}, KindSpecs: map[string]plan.FunctionSpec{}}
	for _, b := range builtinSpecs() {
		s.BuiltinSpecs[b.Name] = b
	}
	for _, k := range kindSpecs() {
		s.KindSpecs[k.Name] = k
	}
	return s
}
