package main

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

func (c *cli) newValidateCmd() *cobra.Command {
	var (
		pf     planFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate [PATH] [-json] [-var NAME=VALUE] [-var-file FILE]",
		Short: "Check a plan without connecting to anything",
		Long: `Check the plan at PATH (a directory of *.chop.hcl, *.chop.json and
*.chop.yaml files, or one file; default: the current directory): syntax,
arguments of every block against the builtins and tunnel kinds, references,
types, cycles, variable validations, modules against the lock file.
Nothing connects and nothing runs. Every problem is reported at once.

Exit status: 0 when the plan is valid, 1 when not.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			cfg, diags := pf.load(path)
			if asJSON {
				if err := writeValidateJSON(c.stdout, diags); err != nil {
					return err
				}
			} else {
				writeDiagnostics(c.stderr, cfg.Files, diags)
				if !diags.HasErrors() {
					fmt.Fprintln(c.stdout, "Success! The plan is valid.")
				}
			}
			if diags.HasErrors() {
				return exitCode(exitError)
			}
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON, in the shape of terraform validate -json")
	return cmd
}

// validateOutput is the JSON of validate -json: Terraform's shape.
type validateOutput struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func toJSONDiagnostics(diags hcl.Diagnostics) (out []jsonDiagnostic, errs, warns int) {
	out = []jsonDiagnostic{}
	for _, d := range diags {
		jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			warns++
		} else {
			errs++
		}
		if r := d.Subject; r != nil {
			jd.Range = &jsonRange{
				Filename: r.Filename,
				Start:    jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:      jsonPos{r.End.Line, r.End.Column, r.End.Byte},
			}
		}
		out = append(out, jd)
	}
	return out, errs, warns
}

func writeValidateJSON(w interface{ Write([]byte) (int, error) }, diags hcl.Diagnostics) error {
	ds, errs, warns := toJSONDiagnostics(diags)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(validateOutput{
		FormatVersion: "1.0",
		Valid:         errs == 0,
		ErrorCount:    errs,
		WarningCount:  warns,
		Diagnostics:   ds,
	})
}
