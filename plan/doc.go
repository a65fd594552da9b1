// Package plan reads chopplan plans: HCL, HCL-JSON and YAML files of
// variables, locals, outputs, tunnels, groups, task lists and modules. It
// checks everything that can be checked without connecting, reporting
// problems as hcl.Diagnostics with source ranges, and produces a static
// Config whose task expressions the engine evaluates per host with
// TaskEvalContext. It knows nothing of hosts or networks beyond the plan.
package plan
