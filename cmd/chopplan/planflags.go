package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
)

// planFlags are the flags of every command that loads a plan: -var and
// -var-file, kept in command-line order because a later one wins.
type planFlags struct {
	vars []plan.VarValue
}

// varFlag appends to planFlags.vars; -var and -var-file share the slice so
// their relative order survives.
type varFlag struct {
	pf   *planFlags
	file bool
}

func (f varFlag) String() string { return "" }
func (f varFlag) Type() string {
	if f.file {
		return "file"
	}
	return "name=value"
}

func (f varFlag) Set(s string) error {
	if f.file {
		f.pf.vars = append(f.pf.vars, plan.VarValue{File: s})
		return nil
	}
	v, err := plan.ParseVarFlag(s)
	if err != nil {
		return err
	}
	f.pf.vars = append(f.pf.vars, v)
	return nil
}

func (pf *planFlags) add(cmd *cobra.Command) {
	cmd.Flags().Var(varFlag{pf: pf}, "var", "set a variable (name=value); repeatable, later wins")
	cmd.Flags().Var(varFlag{pf: pf, file: true}, "var-file", "read variables from a .chopvars.hcl or .json file; repeatable")
}

// load reads the plan at path with the flags' values and CHOP_VAR_
// variables from the environment.
func (pf *planFlags) load(path string) (*plan.Config, hcl.Diagnostics) {
	return plan.Load(path, plan.LoadOptions{
		Schemas: engine.Schemas(nil),
		Vars:    pf.vars,
		Env:     os.Environ(),
	})
}

// writeDiagnostics prints each diagnostic with its source line and the
// range underlined with carets (and in bold when w is a terminal):
//
//	Error: Unsupported argument
//
//	  on web.chop.hcl line 3:
//	   3:   usr = "deploy"
//	        ^^^
//
//	An argument named "usr" is not expected here. Did you mean "user"?
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	color := isTerminal(w) && os.Getenv("NO_COLOR") == ""
	for _, d := range diags {
		var b strings.Builder
		sev, code := "Error", "\x1b[1;31m"
		if d.Severity == hcl.DiagWarning {
			sev, code = "Warning", "\x1b[1;33m"
		}
		if color {
			fmt.Fprintf(&b, "\n%s%s:\x1b[0m \x1b[1m%s\x1b[0m\n", code, sev, d.Summary)
		} else {
			fmt.Fprintf(&b, "\n%s: %s\n", sev, d.Summary)
		}
		if r := d.Subject; r != nil && r.Filename != "" {
			fmt.Fprintf(&b, "\n  on %s line %d:\n", r.Filename, r.Start.Line)
			if f := files[r.Filename]; f != nil && f.Bytes != nil {
				writeSourceLine(&b, f.Bytes, *r, color)
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "\n%s\n", d.Detail)
		}
		io.WriteString(w, b.String())
	}
}

// writeSourceLine prints the line the range starts on and carets under the
// part of it the range covers.
func writeSourceLine(b *strings.Builder, src []byte, r hcl.Range, color bool) {
	start := r.Start.Byte - (r.Start.Column - 1)
	if start < 0 || r.Start.Byte > len(src) {
		return
	}
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	end := start
	for end < len(src) && src[end] != '\n' {
		end++
	}
	line := strings.TrimRight(string(src[start:end]), "\r")
	from := r.Start.Byte - start
	to := r.End.Byte - start
	if r.End.Line != r.Start.Line || to > len(line) {
		to = len(line)
	}
	if from > len(line) {
		from = len(line)
	}
	if to <= from {
		to = from + 1
	}
	prefix := fmt.Sprintf("  %3d: ", r.Start.Line)
	if color && from < len(line) {
		hi := min(to, len(line))
		fmt.Fprintf(b, "%s%s\x1b[1;4m%s\x1b[0m%s\n", prefix, line[:from], line[from:hi], line[hi:])
	} else {
		fmt.Fprintf(b, "%s%s\n", prefix, line)
	}
	// Carets line up under the range; tabs are kept so they do too.
	pad := []rune(line[:from])
	for i, c := range pad {
		if c != '\t' {
			pad[i] = ' '
		}
	}
	fmt.Fprintf(b, "%s%s%s\n", strings.Repeat(" ", len(prefix)), string(pad), strings.Repeat("^", utf8.RuneCountInString(line[from:min(to, len(line))])+max(0, to-len(line))))
}

// isTerminal reports whether w is a terminal. A character device is not
// enough: /dev/null is one, and output sent there must not be redrawn.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
