package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// moduleCall is a module block.
type moduleCall struct {
	name        string
	source      string
	sourceRange hcl.Range
	on          hcl.Expression
	vars        hcl.Expression
	declRange   hcl.Range
	inst        *instance
	module      *Module
}

var moduleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "source", Required: true}, {Name: "on"}, {Name: "vars"}},
}

// ModuleSource is a parsed module source.
type ModuleSource struct {
	// Local is a path relative to the calling module ("./modules/nginx").
	Local string
	// Git sources: the repository URL, the ref to check out and the
	// directory inside the repository ("" for its top).
	URL, Ref, Subdir string
}

// IsGit reports whether the source is fetched by `chopplan init`.
func (s ModuleSource) IsGit() bool { return s.URL != "" }

// ParseModuleSource reads a module source: a local path starting with ./
// or ../, or git::URL[//SUBDIR]?ref=REF (the ref is required: modules are
// pinned).
func ParseModuleSource(src string) (ModuleSource, error) {
	switch {
	case strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../"):
		return ModuleSource{Local: src}, nil
	case strings.HasPrefix(src, "git::"):
		rest := strings.TrimPrefix(src, "git::")
		u, query, _ := strings.Cut(rest, "?")
		var ref string
		for _, kv := range strings.Split(query, "&") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == "ref" {
				ref = v
			} else if kv != "" {
				return ModuleSource{}, fmt.Errorf("unsupported query argument %q: only ref is known", kv)
			}
		}
		if ref == "" {
			return ModuleSource{}, fmt.Errorf("a git source must pin a ref, as git::URL?ref=v1.2.0 (a tag, branch or commit)")
		}
		// A "//" after the scheme's "://" starts the subdirectory.
		scheme := strings.Index(u, "://")
		from := 0
		if scheme >= 0 {
			from = scheme + 3
		}
		var sub string
		if i := strings.Index(u[from:], "//"); i >= 0 {
			sub = u[from+i+2:]
			u = u[:from+i]
		}
		if u == "" {
			return ModuleSource{}, fmt.Errorf("the git URL is empty")
		}
		if strings.Contains(sub, "..") {
			return ModuleSource{}, fmt.Errorf("the subdirectory %q leaves the repository", sub)
		}
		return ModuleSource{URL: u, Ref: ref, Subdir: sub}, nil
	}
	return ModuleSource{}, fmt.Errorf("a module source is a local path starting with ./ or ../, or git::URL?ref=REF")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// installDir is where a git source is installed under the modules
// directory: a readable name and a hash of the whole source string.
func installDir(modulesDir, source string) string {
	s, _ := ParseModuleSource(source)
	base := strings.TrimSuffix(filepath.Base(strings.TrimSuffix(s.URL, "/")), ".git")
	base = unsafeChars.ReplaceAllString(base, "_")
	sum := sha256.Sum256([]byte(source))
	return filepath.Join(modulesDir, base+"-"+hex.EncodeToString(sum[:6]))
}

func (l *loader) decodeModuleCall(in *instance, b *hcl.Block, depth int) hcl.Diagnostics {
	name := b.Labels[0]
	content, diags := b.Body.Content(moduleSchema)
	call := &moduleCall{name: name, declRange: b.DefRange}
	if a := content.Attributes["on"]; a != nil {
		call.on = a.Expr
	}
	if a := content.Attributes["vars"]; a != nil {
		call.vars = a.Expr
	}
	if prev, ok := in.calls[name]; ok {
		return append(diags, duplicate("module", name, prev.declRange, b.DefRange))
	}
	a := content.Attributes["source"]
	if a == nil {
		return diags
	}
	call.sourceRange = a.Expr.Range()
	d := literalString(a, &call.source)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	src, err := ParseModuleSource(call.source)
	if err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid module source",
			Detail:   fmt.Sprintf("The source %q is not valid: %s.", call.source, err),
			Subject:  call.sourceRange.Ptr(),
		})
	}
	if depth >= maxModuleDepth {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Modules nested too deep",
			Detail:   fmt.Sprintf("Modules are nested more than %d deep here; a module probably calls itself.", maxModuleDepth),
			Subject:  call.sourceRange.Ptr(),
		})
	}
	var dir string
	if src.IsGit() {
		var d hcl.Diagnostics
		dir, d = l.gitModuleDir(call)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
	} else {
		dir = filepath.Join(in.dir, filepath.FromSlash(src.Local))
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Module not found",
			Detail:   fmt.Sprintf("The module directory %s does not exist.", dir),
			Subject:  call.sourceRange.Ptr(),
		})
	}
	files, d := l.parseDir(dir)
	diags = append(diags, d...)
	addr := in.prefix() + "module." + name
	child, d := l.decodeModule(addr, dir, files, call, depth+1)
	diags = append(diags, d...)
	child.parent = in
	call.inst = child
	call.module = &Module{Addr: addr, Name: name, Source: call.source, Dir: dir, DeclRange: b.DefRange}
	in.calls[name] = call
	in.items = append(in.items, planItem{call: call})
	return diags
}

// gitModuleDir finds where init installed a git module and checks its
// content against the lock file. In install mode it fetches the module
// first when needed.
func (l *loader) gitModuleDir(call *moduleCall) (string, hcl.Diagnostics) {
	dir := installDir(l.opts.ModulesDir, call.source)
	src, _ := ParseModuleSource(call.source)
	if l.install != nil {
		if d := l.install.fetch(l, call, dir); d.HasErrors() {
			return "", d
		}
	}
	locked, ok := l.lock.Modules[call.source]
	if !ok {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Module not installed",
			Detail:   fmt.Sprintf("The module %q comes from git and is not in the lock file %s. Run `chopplan init` to fetch it.", call.name, l.opts.LockFile),
			Subject:  call.sourceRange.Ptr(),
		}}
	}
	sum, err := HashDir(dir)
	if err != nil {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Module not installed",
			Detail:   fmt.Sprintf("The module %q is in the lock file but its files are missing (%s). Run `chopplan init` to fetch it.", call.name, errText(err)),
			Subject:  call.sourceRange.Ptr(),
		}}
	}
	if sum != locked.Hash {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Module content does not match the lock",
			Detail: fmt.Sprintf("The files of module %q in %s hash to %s, but the lock file pins %s (commit %s). They were changed after `chopplan init`; run it again to restore them, or with -upgrade to pin new content.",
				call.name, dir, sum, locked.Hash, locked.Commit),
			Subject: call.sourceRange.Ptr(),
		}}
	}
	return filepath.Join(dir, filepath.FromSlash(src.Subdir)), nil
}

// evalModuleCall gives a module instance its variables and hosts from the
// calling module, evaluates it, and returns its outputs as references to
// module.NAME see them.
func (c *Config) evalModuleCall(in *instance, call *moduleCall, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	child := call.inst
	rules := refRules{what: "a module block", static: true}
	diags = append(diags, in.checkRefs(call.on, rules)...)
	diags = append(diags, in.checkRefs(call.vars, rules)...)
	if diags.HasErrors() {
		child.vals.failed = true
		return cty.DynamicVal, diags
	}
	child.vals.on = cty.SetValEmpty(cty.String)
	if call.on != nil {
		v, d := call.on.Value(ctx)
		diags = append(diags, d...)
		addrs, d := hostAddresses(v, call.on, "module hosts")
		diags = append(diags, d...)
		child.vals.on = addressSet(addrs)
	}
	raw := map[string]rawValue{}
	if call.vars != nil {
		if pairs, d := hcl.ExprMap(call.vars); !d.HasErrors() {
			for _, p := range pairs {
				k, d := p.Key.Value(nil)
				if d.HasErrors() || k.Type() != cty.String || k.IsNull() {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid variable name",
						Detail: "The keys of vars are the module's variable names.", Subject: p.Key.Range().Ptr(),
					})
					continue
				}
				name := k.AsString()
				if _, ok := child.variables[name]; !ok {
					diags = append(diags, unsupportedModuleVar(call.name, name, child, p.Key.Range()))
					continue
				}
				raw[name] = rawValue{expr: p.Value, ctx: ctx, rng: p.Value.Range(), source: "module " + call.name}
			}
		} else {
			v, d := call.vars.Value(ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid vars",
						Detail: "vars must be an object whose keys are the module's variable names.", Subject: call.vars.Range().Ptr(),
					})
				} else {
					for it := v.ElementIterator(); it.Next(); {
						k, ev := it.Element()
						name := k.AsString()
						if _, ok := child.variables[name]; !ok {
							diags = append(diags, unsupportedModuleVar(call.name, name, child, call.vars.Range()))
							continue
						}
						raw[name] = rawValue{value: ev, rng: call.vars.Range(), source: "module " + call.name}
					}
				}
			}
		}
	}
	for _, v := range child.varOrder {
		r, given := raw[v.Name]
		d := assignVariable(v, r, given)
		for _, dg := range d {
			if dg.Summary == "No value for required variable" {
				dg.Subject = call.declRange.Ptr()
			}
		}
		diags = append(diags, d...)
	}
	diags = append(diags, c.evalInstance(child)...)
	return child.outputsValue(), diags
}

// unsupportedModuleVar is the diagnostic for a vars key that names no
// variable of the module.
func unsupportedModuleVar(module, name string, child *instance, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unsupported module variable",
		Detail: fmt.Sprintf("The module %q declares no variable named %q.%s",
			module, name, didYouMean(name, sortedKeys(child.variables))),
		Subject: rng.Ptr(),
	}
}
