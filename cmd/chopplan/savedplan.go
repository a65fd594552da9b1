package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/chopplan/chopplan/internal/atomicfile"
	"github.com/chopplan/chopplan/plan"
)

// savedPlanFormat marks a file written by plan -out.
const savedPlanFormat = "chopplan-saved-plan/1"

// savedPlan is what plan -out keeps so that apply FILE runs the same
// plan: where it is, the variable inputs as given, and digests of the
// plan's files and of the variables' final values. apply refuses the file
// when either digest changed. The file may hold -var values, so it is
// private to its owner, as Terraform's plan files are.
type savedPlan struct {
	Format    string          `json:"format"`
	Path      string          `json:"path"`
	Vars      []plan.VarValue `json:"vars,omitempty"`
	Files     string          `json:"files_sha256"`
	Variables string          `json:"variables_sha256"`
}

// digests returns the sha256 of the plan's files (names and contents) and
// of its variables' values.
func digests(cfg *plan.Config) (files, vars string, err error) {
	names := make([]string, 0, len(cfg.Files))
	for name := range cfg.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(cfg.Files[name].Bytes))
		h.Write(cfg.Files[name].Bytes)
	}
	files = hex.EncodeToString(h.Sum(nil))
	h.Reset()
	for _, v := range cfg.Variables {
		val, _ := v.Value.UnmarkDeep()
		b, err := ctyjson.Marshal(val, val.Type())
		if err != nil {
			return "", "", fmt.Errorf("variable %s: %w", v.Name, err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", v.Name, b)
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

func writeSavedPlan(path string, cfg *plan.Config, vars []plan.VarValue) error {
	files, vdig, err := digests(cfg)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(savedPlan{Format: savedPlanFormat, Path: abs, Vars: vars, Files: files, Variables: vdig}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// readSavedPlan reads a plan -out file, or returns ok = false when path is
// not one (a plan directory or file, which apply then loads as usual).
func readSavedPlan(path string) (*savedPlan, bool, error) {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Size() > 1<<20 {
		return nil, false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, nil
	}
	var sp savedPlan
	if json.Unmarshal(b, &sp) != nil || sp.Format != savedPlanFormat {
		return nil, false, nil
	}
	return &sp, true, nil
}

// check refuses a saved plan whose files or variables changed since.
func (sp *savedPlan) check(cfg *plan.Config) error {
	files, vars, err := digests(cfg)
	if err != nil {
		return err
	}
	switch {
	case files != sp.Files:
		return fmt.Errorf("the saved plan is stale: the plan's files in %s changed since it was made; run chopplan plan -out again", sp.Path)
	case vars != sp.Variables:
		return fmt.Errorf("the saved plan is stale: variable values changed since it was made (environment, var files or defaults); run chopplan plan -out again")
	}
	return nil
}
