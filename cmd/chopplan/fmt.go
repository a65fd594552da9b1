package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/plan"
)

// exitFmtCheck is fmt -check's status when a file is not formatted, as
// terraform fmt -check's.
const exitFmtCheck = 3

type fmtOptions struct {
	check, diff, recursive, list, write bool
}

func (c *cli) newFmtCmd() *cobra.Command {
	var o fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [PATH...] [-check] [-diff] [-recursive]",
		Short: "Rewrite HCL plan files in canonical form",
		Long: `Rewrite *.chop.hcl and *.chopvars.hcl files in canonical form (aligned
equals signs, two-space indentation), in place, listing each file changed.
PATH is a file or a directory (default: the current directory); "-" reads
stdin and writes the formatted text to stdout. JSON and YAML plans are left
as they are. Formatting twice changes nothing.

Exit status: 0, or 3 with -check when some file is not formatted, 1 on a
syntax error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			if o.check {
				o.write = false
			}
			var diags hcl.Diagnostics
			files := map[string]*hcl.File{}
			changed := 0
			for _, a := range args {
				if a == "-" {
					n, d := c.fmtStdin(o)
					changed += n
					diags = append(diags, d...)
					continue
				}
				n, d, err := c.fmtPath(a, o, files)
				if err != nil {
					return err
				}
				changed += n
				diags = append(diags, d...)
			}
			writeDiagnostics(c.stderr, files, diags)
			switch {
			case diags.HasErrors():
				return exitCode(exitError)
			case o.check && changed > 0:
				return exitCode(exitFmtCheck)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.check, "check", false, "change nothing; list the files that are not formatted and exit 3 if any")
	cmd.Flags().BoolVar(&o.diff, "diff", false, "print the changes as a unified diff")
	cmd.Flags().BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories")
	cmd.Flags().BoolVar(&o.list, "list", true, "list the files whose formatting changes")
	cmd.Flags().BoolVar(&o.write, "write", true, "write the result to the files")
	return cmd
}

// fmtStdin formats stdin to stdout (or, with -check, only reports).
func (c *cli) fmtStdin(o fmtOptions) (int, hcl.Diagnostics) {
	src, err := io.ReadAll(c.stdin)
	if err != nil {
		return 0, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read stdin", Detail: err.Error() + "."}}
	}
	out, diags := plan.Format(src, "<stdin>")
	if diags.HasErrors() {
		return 0, diags
	}
	changed := !bytes.Equal(src, out)
	switch {
	case o.diff:
		if changed {
			io.WriteString(c.stdout, unifiedDiff("<stdin>", "<stdin>", string(src), string(out)))
		}
	case !o.check:
		c.stdout.Write(out)
	}
	if changed {
		return 1, nil
	}
	return 0, nil
}

// fmtPath formats a file, or the formattable files of a directory.
func (c *cli) fmtPath(path string, o fmtOptions, files map[string]*hcl.File) (int, hcl.Diagnostics, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, nil, fmt.Errorf("fmt: %w", err)
	}
	if !fi.IsDir() {
		if !plan.IsFormattable(filepath.Base(path)) && !strings.HasSuffix(path, ".hcl") {
			return 0, nil, fmt.Errorf("fmt: %s is not an HCL file; only *.chop.hcl and *.chopvars.hcl files are formatted", path)
		}
		return c.fmtFile(path, o, files)
	}
	var paths []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == path {
				return nil
			}
			if !o.recursive || strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && plan.IsFormattable(d.Name()) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("fmt: %w", err)
	}
	changed := 0
	var diags hcl.Diagnostics
	for _, p := range paths {
		n, d, err := c.fmtFile(p, o, files)
		if err != nil {
			return changed, diags, err
		}
		changed += n
		diags = append(diags, d...)
	}
	return changed, diags, nil
}

func (c *cli) fmtFile(path string, o fmtOptions, files map[string]*hcl.File) (int, hcl.Diagnostics, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("fmt: %w", err)
	}
	out, diags := plan.Format(src, path)
	if diags.HasErrors() {
		files[path] = &hcl.File{Bytes: src}
		return 0, diags, nil
	}
	if bytes.Equal(src, out) {
		return 0, nil, nil
	}
	if o.list {
		fmt.Fprintln(c.stdout, path)
	}
	if o.diff {
		io.WriteString(c.stdout, unifiedDiff("old/"+filepath.ToSlash(path), "new/"+filepath.ToSlash(path), string(src), string(out)))
	}
	if o.write {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, nil, fmt.Errorf("fmt: %w", err)
		}
		if err := os.WriteFile(path, out, fi.Mode().Perm()); err != nil {
			return 0, nil, fmt.Errorf("fmt: %w", err)
		}
	}
	return 1, nil, nil
}

// unifiedDiff renders the line changes from a to b as a unified diff with
// three lines of context.
func unifiedDiff(nameA, nameB, a, b string) string {
	la, lb := splitLines(a), splitLines(b)
	ops := diffLines(la, lb)
	const ctx = 3
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	// Group the edit script into hunks of changes with context.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := i - ctx
		if start < 0 {
			start = 0
		}
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end += min(ctx, run-end)
				break
			}
			end = run
		}
		aStart, bStart, aLen, bLen := ops[start].ai, ops[start].bi, 0, 0
		var body strings.Builder
		for _, op := range ops[start:end] {
			body.WriteByte(op.kind)
			body.WriteString(op.text)
			if !strings.HasSuffix(op.text, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n%s", aStart+1, aLen, bStart+1, bLen, body.String())
		i = end
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

type diffOp struct {
	kind   byte // ' ', '-' or '+'
	text   string
	ai, bi int // line index in a and b where the op applies
}

// diffLines is a longest-common-subsequence diff; plan files are small.
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		}
	}
	return ops
}
