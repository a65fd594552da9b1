package builtins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

func init() {
	MustRegister(Spec{
		Name: "script",
		Doc: "Runs a script the controller sends as content: it is written to a private temp directory, run as exec runs " +
			"a command (process group, timeout, ok_codes, live output) and removed afterwards. In a plan the task gives " +
			"src, a script file on the controller, which the controller reads into content. In check mode the script " +
			"does not run: the result says skipped, and changed says whether it would run after the creates and removes guards.",
		Args: append([]Arg{
			{Name: "content", Type: cty.String, Required: true, Doc: "the script's text (the controller fills it from src)"},
			{Name: "interpreter", Type: cty.DynamicPseudoType, Doc: `the program that runs the script, as a list ["python3", "-u"] or a string split at spaces; default: the script's #! line, else /bin/sh`},
			{Name: "args", Type: cty.List(cty.String), Doc: "arguments passed to the script"},
		}, commandArgs()...),
		Result: ExecResultType, CheckMode: true,
		Run: script,
	})
}

func script(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	content := argString(args, "content")
	argv, err := interpreterArgv(args.GetAttr("interpreter"), content)
	if err != nil {
		return cty.NilVal, err
	}
	if skipped(args) {
		return execResult(0, "", "", 0, false, true), nil
	}
	if cc.Check() {
		return execResult(0, "", "", 0, true, true), nil
	}
	// MkdirTemp makes the directory 0700: no other user can read the
	// script or swap it between writing and running.
	dir, err := os.MkdirTemp("", "chopplan-script-")
	if err != nil {
		return cty.NilVal, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "script")
	if err := os.WriteFile(path, []byte(content), 0o700); err != nil {
		return cty.NilVal, err
	}
	// The script is given to its interpreter rather than executed itself:
	// executing a file just written can fail with ETXTBSY while another
	// call's fork still holds the write descriptor.
	argv = append(argv, path)
	if v := args.GetAttr("args"); !v.IsNull() {
		for _, a := range v.AsValueSlice() {
			argv = append(argv, a.AsString())
		}
	}
	return runCommand(cc, argv, nil, args)
}

// interpreterArgv returns the command that runs the script: the
// interpreter argument, else the #! line (its program and at most one
// argument, as the kernel reads it), else /bin/sh.
func interpreterArgv(v cty.Value, content string) ([]string, error) {
	if !v.IsNull() {
		if v.Type() == cty.String {
			argv := strings.Fields(v.AsString())
			if len(argv) == 0 {
				return nil, errors.New("interpreter is empty")
			}
			return argv, nil
		}
		argv, err := commandArgv(v)
		if err != nil {
			return nil, fmt.Errorf("interpreter: %v", err)
		}
		return argv, nil
	}
	if rest, ok := strings.CutPrefix(content, "#!"); ok {
		first, _, _ := strings.Cut(rest, "\n")
		first = strings.TrimSpace(first)
		prog, arg := first, ""
		if i := strings.IndexAny(first, " \t"); i >= 0 {
			prog, arg = first[:i], first[i+1:]
		}
		if prog == "" {
			return nil, errors.New("the script's #! line names no interpreter")
		}
		if arg = strings.TrimSpace(arg); arg != "" {
			return []string{prog, arg}, nil
		}
		return []string{prog}, nil
	}
	return []string{"/bin/sh"}, nil
}
