package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// LoadOptions says what Load needs besides the plan files.
type LoadOptions struct {
	// Schemas gives the argument specs of builtins and tunnel kinds.
	// Without it every builtin and kind is reported unknown.
	Schemas Schemas
	// Vars holds -var and -var-file values in command-line order; a later
	// one wins over an earlier one.
	Vars []VarValue
	// Env is the environment ("NAME=value"); CHOP_VAR_name sets variable
	// name, below every other source. nil reads nothing.
	Env []string
	// ModulesDir is where `chopplan init` put git modules. Default:
	// .chopplan/modules beside the root module.
	ModulesDir string
	// LockFile pins git modules. Default: chopplan.lock.hcl beside the root
	// module.
	LockFile string
	// NoAutoVarFiles skips chopplan.chopvars.hcl and *.auto.chopvars.hcl.
	NoAutoVarFiles bool
}

// VarValue is one -var (Name and Value) or -var-file (File) argument.
type VarValue struct {
	Name, Value string
	File        string
}

// ParseVarFlag splits a -var argument "name=value".
func ParseVarFlag(s string) (VarValue, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return VarValue{}, fmt.Errorf("plan: -var %q: expected name=value", s)
	}
	return VarValue{Name: name, Value: value}, nil
}

// File name suffixes of plan files, by syntax.
const (
	SuffixHCL  = ".chop.hcl"
	SuffixJSON = ".chop.json"
	SuffixYAML = ".chop.yaml"
	SuffixYML  = ".chop.yml"
)

// IsPlanFile reports whether name is a plan file by its suffix.
func IsPlanFile(name string) bool {
	for _, s := range []string{SuffixHCL, SuffixJSON, SuffixYAML, SuffixYML} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Load reads the plan at path (a directory of plan files, or one file),
// its modules and variable values, checks everything that can be checked
// without connecting, and returns the static configuration. It reports
// every problem it finds; the Config is returned, partial, even when the
// diagnostics hold errors, so a caller can still print them with
// Config.Files.
func Load(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	l := newLoader(opts)
	cfg, diags := l.load(path)
	return cfg, diags
}

// loader holds what one Load shares across modules.
type loader struct {
	opts    LoadOptions
	parser  *hclparse.Parser
	lock    *LockFile
	install *installer // set by InstallModules
}

func newLoader(opts LoadOptions) *loader {
	if opts.Schemas == nil {
		opts.Schemas = StaticSchemas{}
	}
	return &loader{opts: opts, parser: hclparse.NewParser()}
}

func (l *loader) load(path string) (*Config, hcl.Diagnostics) {
	cfg := &Config{Path: path, Files: map[string]*hcl.File{}}
	var diags hcl.Diagnostics
	fi, err := os.Stat(path)
	if err != nil {
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read plan",
			Detail:   fmt.Sprintf("The plan %s cannot be read: %s.", path, errText(err)),
		}}
	}
	var files []*hcl.File
	if fi.IsDir() {
		cfg.Dir = path
		var d hcl.Diagnostics
		files, d = l.parseDir(path)
		diags = append(diags, d...)
		if len(files) == 0 && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No plan files",
				Detail:   fmt.Sprintf("The directory %s holds no *.chop.hcl, *.chop.json, *.chop.yaml or *.chop.yml file.", path),
			})
		}
	} else {
		cfg.Dir = filepath.Dir(path)
		f, d := l.parseFile(path)
		diags = append(diags, d...)
		if f != nil {
			files = append(files, f)
		}
	}
	if l.opts.ModulesDir == "" {
		l.opts.ModulesDir = filepath.Join(cfg.Dir, ".chopplan", "modules")
	}
	if l.opts.LockFile == "" {
		l.opts.LockFile = filepath.Join(cfg.Dir, LockFileName)
	}
	for name, f := range l.parser.Files() {
		cfg.Files[name] = f
	}
	if diags.HasErrors() {
		// Like Terraform: syntax errors stop here, since what follows would
		// mostly report their consequences.
		return cfg, diags
	}
	lock, d := l.readLock()
	diags = append(diags, d...)
	l.lock = lock

	root, d := l.decodeModule("", cfg.Dir, files, nil, 0)
	diags = append(diags, d...)
	diags = append(diags, l.rootVariables(root)...)
	cfg.root = root
	diags = append(diags, cfg.evaluate()...)
	for name, f := range l.parser.Files() {
		cfg.Files[name] = f
	}
	return cfg, diags
}

// parseDir parses every plan file of dir, by name.
func (l *loader) parseDir(dir string) ([]*hcl.File, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read plan directory",
			Detail:   fmt.Sprintf("The directory %s cannot be read: %s.", dir, errText(err)),
		}}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && IsPlanFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var files []*hcl.File
	var diags hcl.Diagnostics
	for _, n := range names {
		f, d := l.parseFile(filepath.Join(dir, n))
		diags = append(diags, d...)
		if f != nil {
			files = append(files, f)
		}
	}
	return files, diags
}

// maxFileSize bounds what the loader reads: plans are text written by
// people.
const maxFileSize = 16 << 20

func (l *loader) parseFile(path string) (*hcl.File, hcl.Diagnostics) {
	if f := l.parser.Files()[path]; f != nil {
		return f, nil
	}
	fi, err := os.Stat(path)
	if err == nil && fi.Size() > maxFileSize {
		err = fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	var src []byte
	if err == nil {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read file",
			Detail:   fmt.Sprintf("The file %s cannot be read: %s.", path, errText(err)),
		}}
	}
	return l.parseSource(src, path)
}

// parseSource parses src by the syntax its file name says (HCL unless it
// ends in .json, .yaml or .yml).
func (l *loader) parseSource(src []byte, path string) (*hcl.File, hcl.Diagnostics) {
	switch {
	case strings.HasSuffix(path, ".json"):
		return l.parser.ParseJSON(src, path)
	case strings.HasSuffix(path, ".yaml"), strings.HasSuffix(path, ".yml"):
		f, diags := parseYAML(src, path)
		l.parser.AddFile(path, f)
		return f, diags
	default:
		return l.parser.ParseHCL(src, path)
	}
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
