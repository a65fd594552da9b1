package builtins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// maxCapture bounds how much of each output stream an exec result keeps;
// live output is streamed whole regardless.
const maxCapture = 64 << 20

// ExecResultType is the shape of the exec builtin's result.
var ExecResultType = cty.Object(map[string]cty.Type{
	"rc": cty.Number, "stdout": cty.String, "stderr": cty.String,
	"duration_ms": cty.Number, "changed": cty.Bool, "skipped": cty.Bool,
})

func init() {
	MustRegister(Spec{
		Name: "exec",
		Doc:  "Runs a command: an argv list, or a string for /bin/sh -c. A non-zero exit status fails unless listed in ok_codes.",
		Args: append([]Arg{
			{Name: "command", Type: cty.DynamicPseudoType, Required: true, Doc: "a list of strings (argv), or a string run by /bin/sh -c"},
			{Name: "stdin", Type: cty.String, Doc: "text written to the command's standard input"},
		}, commandArgs()...),
		Result: ExecResultType,
		Run:    execCommand,
	})
}

func execResult(rc int, stdout, stderr string, d time.Duration, changed, skipped bool) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"rc": intVal(int64(rc)), "stdout": cty.StringVal(stdout), "stderr": cty.StringVal(stderr),
		"duration_ms": cty.NumberFloatVal(float64(d.Microseconds()) / 1000), "changed": cty.BoolVal(changed), "skipped": cty.BoolVal(skipped),
	})
}

// commandArgs are the arguments of the builtins that run a command (exec
// and script): its environment, timeout, guards, accepted statuses and
// live output, read by skipped and runCommand.
func commandArgs() []Arg {
	return []Arg{
		{Name: "env", Type: cty.Map(cty.String), Doc: "variables added to the environment"},
		{Name: "dir", Type: cty.String, Doc: "the working directory"},
		{Name: "timeout", Type: cty.DynamicPseudoType, Doc: "a duration (\"30s\") or seconds; the command's process group is killed after it"},
		{Name: "creates", Type: cty.String, Doc: "skip when this path exists"},
		{Name: "removes", Type: cty.String, Doc: "skip when this path does not exist"},
		{Name: "ok_codes", Type: cty.List(cty.Number), Default: cty.ListVal([]cty.Value{cty.Zero}), Doc: "exit statuses that count as success"},
		{Name: "live", Type: cty.Bool, Default: cty.True, Doc: "stream output to the controller as it happens"},
	}
}

func execCommand(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	argv, err := commandArgv(args.GetAttr("command"))
	if err != nil {
		return cty.NilVal, err
	}
	if skipped(args) {
		return execResult(0, "", "", 0, false, true), nil
	}
	var stdin io.Reader
	if s := args.GetAttr("stdin"); !s.IsNull() {
		stdin = strings.NewReader(s.AsString())
	}
	return runCommand(cc, argv, stdin, args)
}

// skipped reports whether the creates or removes guard says the command
// must not run.
func skipped(args cty.Value) bool {
	if p := argString(args, "creates"); p != "" {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	if p := argString(args, "removes"); p != "" {
		if _, err := os.Lstat(p); err != nil {
			return true
		}
	}
	return false
}

// runCommand runs argv with the commandArgs in args: in a process group
// killed on timeout or cancellation, output captured (and streamed when
// live), the exit status checked against ok_codes. The result, in
// ExecResultType, comes back with a failure too.
func runCommand(cc agent.CallContext, argv []string, stdin io.Reader, args cty.Value) (cty.Value, error) {
	timeout, err := argDuration(args, "timeout")
	if err != nil {
		return cty.NilVal, err
	}
	ctx := cc.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var stdout, stderr capture
	if argBool(args, "live") {
		stdout.live, stderr.live = cc.Stdout(), cc.Stderr()
	}
	p := &process{argv: argv, dir: argString(args, "dir"), stdin: stdin, stdout: &stdout, stderr: &stderr}
	env := argStringMap(args, "env")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		p.env = append(p.env, k+"="+env[k])
	}
	start := time.Now()
	rc, err := p.run(ctx)
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil && cc.Context().Err() == nil {
			return execResult(-1, stdout.String(), stderr.String(), d, true, false), fmt.Errorf("timed out after %s; its process group was killed", timeout)
		}
		return cty.NilVal, err
	}
	res := execResult(rc, stdout.String(), stderr.String(), d, true, false)
	for _, ok := range args.GetAttr("ok_codes").AsValueSlice() {
		if code, _ := ok.AsBigFloat().Int64(); int(code) == rc {
			return res, nil
		}
	}
	msg := fmt.Sprintf("%s exited with status %d", argv[0], rc)
	if tail := lastLine(stderr.String()); tail != "" {
		msg += ": " + tail
	}
	return res, errors.New(msg)
}

func commandArgv(v cty.Value) ([]string, error) {
	if v.IsNull() || !v.IsKnown() {
		return nil, errors.New("command is required")
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return []string{"/bin/sh", "-c", v.AsString()}, nil
	case ty.IsListType() || ty.IsTupleType():
		var argv []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.String {
				return nil, fmt.Errorf("command: every element must be a string")
			}
			argv = append(argv, e.AsString())
		}
		if len(argv) == 0 {
			return nil, errors.New("command: the list is empty")
		}
		return argv, nil
	}
	return nil, fmt.Errorf("command must be a string or a list of strings, not %s", ty.FriendlyName())
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// capture keeps the first maxCapture bytes written to it, as valid UTF-8,
// and passes everything on to live when set.
type capture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
	live      io.Writer
}

func (c *capture) Write(p []byte) (int, error) {
	if c.live != nil {
		c.live.Write(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxCapture - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.truncated = true
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.ToValidUTF8(c.buf.String(), "\uFFFD")
	if c.truncated {
		s += fmt.Sprintf("\n[output truncated at %d bytes]", maxCapture)
	}
	return s
}
