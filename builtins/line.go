package builtins

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// LineResultType is the shape of the line builtin's result.
var LineResultType = cty.Object(map[string]cty.Type{
	"path": cty.String, "state": cty.String, "changed": cty.Bool, "diff": FileDiffType, "found": cty.Number,
})

func init() {
	MustRegister(Spec{
		Name: "line",
		Doc: "Ensures a line is in a file, or is not. With regexp, the last matching line is replaced by line " +
			"(state = present) or every matching line is removed (state = absent). The file is rewritten " +
			"atomically, keeping its mode and owner unless given; the diff shows what changes.",
		Args: append([]Arg{
			{Name: "path", Type: cty.String, Required: true, Doc: "the file to edit; a link is followed"},
			{Name: "line", Type: cty.String, Doc: "the whole line, without its newline; required for state = present"},
			{Name: "regexp", Type: cty.String, Doc: "an RE2 regular expression matched against each line; it should also match line, or every run adds it again"},
			{Name: "state", Type: cty.String, Default: cty.StringVal("present"), Doc: `"present" or "absent"`},
			{Name: "insert_after", Type: cty.String, Doc: `where a new line goes: after the last line matching this regexp, or "EOF" (the default); at the end when nothing matches`},
			{Name: "insert_before", Type: cty.String, Doc: `where a new line goes: before the last line matching this regexp, or "BOF" for the start; at the end when nothing matches`},
			{Name: "create", Type: cty.Bool, Default: cty.False, Doc: "create the file when it is missing (state = present); otherwise a missing file is an error"},
			{Name: "backup", Type: cty.Bool, Default: cty.False, Doc: "keep the replaced file as path.<timestamp>~"},
		}, attrArgs()...),
		Result: LineResultType, CheckMode: true, Idempotent: true,
		Run: line,
	})
}

// lineEdit is a parsed line call.
type lineEdit struct {
	line          *string
	re            *regexp.Regexp
	absent        bool
	after, before string
	afterRe       *regexp.Regexp
	beforeRe      *regexp.Regexp
}

func readLineEdit(args cty.Value) (*lineEdit, error) {
	e := &lineEdit{after: argString(args, "insert_after"), before: argString(args, "insert_before")}
	if v := args.GetAttr("line"); !v.IsNull() {
		s := v.AsString()
		if strings.ContainsAny(s, "\n") {
			return nil, errors.New("line must be a single line, without a newline")
		}
		e.line = &s
	}
	var err error
	compile := func(name, expr string) *regexp.Regexp {
		re, cerr := regexp.Compile(expr)
		if cerr != nil && err == nil {
			err = fmt.Errorf("%s: %v", name, cerr)
		}
		return re
	}
	if s := argString(args, "regexp"); s != "" {
		e.re = compile("regexp", s)
	}
	switch state := argString(args, "state"); state {
	case "present":
		if e.line == nil {
			return nil, errors.New("state = \"present\" needs line")
		}
	case "absent":
		e.absent = true
		if e.line == nil && e.re == nil {
			return nil, errors.New("state = \"absent\" needs line or regexp")
		}
		if e.after != "" || e.before != "" {
			return nil, errors.New("insert_after and insert_before are only for state = \"present\"")
		}
	default:
		return nil, fmt.Errorf("state must be \"present\" or \"absent\", not %q", state)
	}
	if e.after != "" && e.before != "" {
		return nil, errors.New("give insert_after or insert_before, not both")
	}
	if e.after != "" && e.after != "EOF" {
		e.afterRe = compile("insert_after", e.after)
	}
	if e.before != "" && e.before != "BOF" {
		e.beforeRe = compile("insert_before", e.before)
	}
	return e, err
}

func line(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	path, err := filepath.Abs(argString(args, "path"))
	if err != nil {
		return cty.NilVal, err
	}
	e, err := readLineEdit(args)
	if err != nil {
		return cty.NilVal, err
	}
	a, err := readAttrs(args)
	if err != nil {
		return cty.NilVal, err
	}
	real, old, exists, err := readText(path)
	if err != nil {
		return cty.NilVal, err
	}
	c := newChange()
	found := 0
	switch {
	case !exists && e.absent:
	case !exists && !argBool(args, "create"):
		return cty.NilVal, fmt.Errorf("%s does not exist; set create = true to create it", real)
	default:
		var content string
		content, found = e.apply(string(old))
		w := fileWant{content: []byte(content), manage: true, create: true, attrs: a, backup: argBool(args, "backup")}
		if _, err := ensureFile(cc.Check(), real, w, c); err != nil {
			return cty.NilVal, err
		}
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(real), "state": args.GetAttr("state"), "changed": cty.BoolVal(c.changed()),
		"diff": c.value(), "found": intVal(int64(found)),
	}), nil
}

// apply edits text and returns the new text and how many lines matched
// (the regexp, else the line itself).
func (e *lineEdit) apply(text string) (string, int) {
	// Keep the file's line endings: a CRLF file gets CRLF lines.
	cr := ""
	if i := strings.IndexByte(text, '\n'); i > 0 && text[i-1] == '\r' {
		cr = "\r"
	}
	finalEOL := text == "" || strings.HasSuffix(text, "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	}
	bare := func(l string) string { return strings.TrimSuffix(l, "\r") }
	matches := func(l string) bool {
		if e.re != nil {
			return e.re.MatchString(bare(l))
		}
		return bare(l) == *e.line
	}
	found := 0
	if e.absent {
		kept := lines[:0:0]
		for _, l := range lines {
			if matches(l) {
				found++
			} else {
				kept = append(kept, l)
			}
		}
		return join(kept, finalEOL), found
	}
	want := *e.line + cr
	last := -1
	for i, l := range lines {
		if matches(l) {
			found++
			last = i
		}
	}
	if last >= 0 && e.re != nil {
		lines[last] = want
		return join(lines, finalEOL), found
	}
	if last >= 0 || e.re != nil && containsLine(lines, *e.line) {
		return text, found
	}
	pos := len(lines)
	switch {
	case e.before == "BOF":
		pos = 0
	case e.beforeRe != nil:
		if i := lastMatch(lines, e.beforeRe); i >= 0 {
			pos = i
		}
	case e.afterRe != nil:
		if i := lastMatch(lines, e.afterRe); i >= 0 {
			pos = i + 1
		}
	}
	if pos == len(lines) {
		// A line added at the end ends with a newline, and the one before it
		// gets the newline it may have lacked.
		finalEOL = true
	}
	lines = append(lines[:pos], append([]string{want}, lines[pos:]...)...)
	return join(lines, finalEOL), found
}

// join puts lines back together; each still carries its "\r" in a CRLF file.
func join(lines []string, finalEOL bool) string {
	if len(lines) == 0 {
		return ""
	}
	s := strings.Join(lines, "\n")
	if finalEOL {
		s += "\n"
	}
	return s
}

func containsLine(lines []string, line string) bool {
	for _, l := range lines {
		if strings.TrimSuffix(l, "\r") == line {
			return true
		}
	}
	return false
}

func lastMatch(lines []string, re *regexp.Regexp) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if re.MatchString(strings.TrimSuffix(lines[i], "\r")) {
			return i
		}
	}
	return -1
}
