package engine

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/tunnel"
)

// An action is a task whose work starts on the controller: it reads or
// writes a local file (put's src, fetch's dest, a template, a script) and
// then calls builtins on the target. Its spec is what a plan writes; the
// agent-side builtin of the same name takes the prepared form.
type action struct {
	spec builtins.Spec
	run  func(ctx context.Context, x *callEnv, args cty.Value) (cty.Value, error)
}

// callEnv is what an action needs of the task it runs for.
type callEnv struct {
	tun   *tunnel.Tunnel
	host  string
	dir   string // the plan's directory: relative local paths start here
	check bool
	opts  *agent.CallOptions
	// progress reports a transfer's bytes done of total.
	progress func(done, total int64)
}

func (x *callEnv) local(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(x.dir, p)
}

var actions = map[string]*action{}

func init() {
	str := cty.String
	attrArgs := []builtins.Arg{
		{Name: "mode", Type: cty.DynamicPseudoType, Doc: `permission bits: "0644" or a number`},
		{Name: "owner", Type: str}, {Name: "group", Type: str},
	}
	actions["put"] = &action{
		spec: builtins.Spec{
			Name: "put", Doc: "Copies a local file (src, relative to the plan) to dest on the target: streamed, verified by sha256, installed atomically, and not sent when the target already has it.",
			Args: append([]builtins.Arg{
				{Name: "src", Type: str, Required: true}, {Name: "dest", Type: str, Required: true},
			}, attrArgs...),
			Result: builtins.TransferType, CheckMode: true, Idempotent: true,
		},
		run: runPut,
	}
	actions["fetch"] = &action{
		spec: builtins.Spec{
			Name: "fetch", Doc: `Copies src from the target to the local dest; "{host}" in dest is replaced by the host name.`,
			Args:   []builtins.Arg{{Name: "src", Type: str, Required: true}, {Name: "dest", Type: str, Required: true}},
			Result: builtins.TransferType, CheckMode: true, Idempotent: true,
		},
		run: runFetch,
	}
	actions["template"] = &action{spec: withSrc("template", builtins.TemplateControllerArgs), run: runTemplate}
	actions["script"] = &action{spec: withSrc("script", []string{"src"}), run: runScript}
}

// withSrc derives a controller action's spec from the agent builtin's:
// content is replaced by src (a local file), and vars is added for
// templates, so the two specs cannot drift apart.
func withSrc(name string, controllerArgs []string) builtins.Spec {
	agentSpec, ok := builtins.Default.Spec(name)
	if !ok {
		panic("engine: no builtin " + name)
	}
	s := *agentSpec
	s.Args = []builtins.Arg{{Name: "src", Type: cty.String, Required: true, Doc: "a local file, relative to the plan"}}
	for _, a := range controllerArgs {
		if a == "vars" {
			s.Args = append(s.Args, builtins.Arg{Name: "vars", Type: cty.DynamicPseudoType, Doc: "the template's variables"})
		}
	}
	for _, a := range agentSpec.Args {
		if a.Name != "content" {
			s.Args = append(s.Args, a)
		}
	}
	s.Run = nil
	return s
}

func str(v cty.Value, name string) string {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return ""
	}
	return a.AsString()
}

func runPut(ctx context.Context, x *callEnv, args cty.Value) (cty.Value, error) {
	mode, err := builtins.ParseMode(args.GetAttr("mode"))
	if err != nil {
		return cty.NilVal, err
	}
	opts := &tunnel.PutOptions{Owner: str(args, "owner"), Group: str(args, "group"), Check: x.check, Progress: x.progress}
	if mode >= 0 {
		opts.Mode = fs.FileMode(mode)
	}
	res, err := x.tun.Put(ctx, x.local(str(args, "src")), str(args, "dest"), opts)
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(res.RemotePath), "size": cty.NumberIntVal(res.Size), "sha256": cty.StringVal(res.SHA256),
		"mode": cty.NumberIntVal(int64(opts.Mode)), "changed": cty.BoolVal(res.Changed),
	}), nil
}

func runFetch(ctx context.Context, x *callEnv, args cty.Value) (cty.Value, error) {
	dest := x.local(strings.ReplaceAll(str(args, "dest"), "{host}", x.host))
	if x.check {
		st, err := x.tun.Call(ctx, "stat", map[string]any{"path": str(args, "src"), "checksum": true})
		if err != nil {
			return cty.NilVal, err
		}
		local, err := builtins.Stat(dest, true)
		if err != nil {
			return cty.NilVal, fmt.Errorf("fetch: %w", err)
		}
		// The stat came from the target: read it as untrusted data.
		remoteSum, _ := agent.AttrString(st, "sha256")
		localSum, _ := agent.AttrString(local, "sha256")
		size, _ := agent.AttrInt(st, "size")
		mode, _ := agent.AttrInt(st, "mode")
		return cty.ObjectVal(map[string]cty.Value{
			"path": cty.StringVal(dest), "size": cty.NumberIntVal(size), "sha256": cty.StringVal(remoteSum),
			"mode": cty.NumberIntVal(mode), "changed": cty.BoolVal(remoteSum != localSum),
		}), nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return cty.NilVal, err
	}
	res, err := x.tun.Fetch(ctx, str(args, "src"), dest)
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(res.LocalPath), "size": cty.NumberIntVal(res.Size), "sha256": cty.StringVal(res.SHA256),
		"mode": cty.Zero, "changed": cty.True,
	}), nil
}

// forward calls the agent builtin name with the action's args, less the
// controller's, plus content.
func forward(ctx context.Context, x *callEnv, name string, args cty.Value, content string) (cty.Value, error) {
	out := map[string]cty.Value{"content": cty.StringVal(content)}
	for k, v := range args.AsValueMap() {
		if k != "src" && k != "vars" {
			out[k] = v
		}
	}
	opts := *x.opts
	opts.Check = x.check
	return x.tun.CallWith(ctx, name, cty.ObjectVal(out), &opts)
}

func runTemplate(ctx context.Context, x *callEnv, args cty.Value) (cty.Value, error) {
	text, err := renderTemplate(x.local(str(args, "src")), args.GetAttr("vars"))
	if err != nil {
		return cty.NilVal, err
	}
	return forward(ctx, x, "template", args, text)
}

func runScript(ctx context.Context, x *callEnv, args cty.Value) (cty.Value, error) {
	b, err := os.ReadFile(x.local(str(args, "src")))
	if err != nil {
		return cty.NilVal, fmt.Errorf("script: %w", err)
	}
	return forward(ctx, x, "script", args, string(b))
}

// renderTemplate renders a template file with HCL template syntax, its
// variables as top-level names and the plan's functions (as templatefile
// does).
func renderTemplate(path string, vars cty.Value) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return "", fmt.Errorf("template %s: %s", path, diags.Error())
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: plan.Functions(filepath.Dir(path))}
	if vars != cty.NilVal && !vars.IsNull() && vars.CanIterateElements() {
		for k, v := range vars.AsValueMap() {
			ctx.Variables[k] = v
		}
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", fmt.Errorf("template %s: %s", path, diags.Error())
	}
	v, _ = v.UnmarkDeep()
	if v.Type() != cty.String || v.IsNull() {
		return "", fmt.Errorf("template %s did not render to a string", path)
	}
	if !v.IsKnown() {
		return "", fmt.Errorf("template %s depends on values not known yet", path)
	}
	return v.AsString(), nil
}
