package engine

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/internal/termsafe"
	"github.com/chopplan/chopplan/plan"
)

// LineOptions tune the plain-line output.
type LineOptions struct {
	// Diff prints the diff of every changed task (apply -diff). Check mode
	// (chopplan plan) always prints diffs: they are what it is for.
	Diff bool
	// Color writes ANSI colours: for a terminal, never for a pipe or file.
	Color bool
}

// LineRenderer is the Sink for a stdout that is not a terminal: one line
// per finished task (`host | tasks.deploy.restart: changed (12ms)`), the
// error of a failure, live output as `host | line`, diffs, and at the end
// a recap table per host and the run's outputs.
//
// Each event is written with one Write call under a lock, so the lines of
// many hosts interleave whole, never mid-line.
type LineRenderer struct {
	mu sync.Mutex
	w  io.Writer
	f  *lineFormatter
}

var _ Sink = (*LineRenderer)(nil)

// NewLineRenderer writes events to w as plain lines, every string passed
// through r (which may be nil).
func NewLineRenderer(w io.Writer, r *Redactor, opts LineOptions) *LineRenderer {
	return &LineRenderer{w: w, f: newLineFormatter(r, opts)}
}

// Event writes e.
func (l *LineRenderer) Event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.f.format(e); s != "" {
		io.WriteString(l.w, s)
	}
}

// lineFormatter turns events into text; the terminal renderer prints the
// same text above its status area. It keeps what run_start said (check
// mode, the width of host names), so calls must be serialised.
type lineFormatter struct {
	r     *Redactor
	opts  LineOptions
	check bool
	width int // of the longest host name, to align the bars
}

func newLineFormatter(r *Redactor, opts LineOptions) *lineFormatter {
	return &lineFormatter{r: r, opts: opts}
}

// ANSI SGR sequences; colour only marks what a reader looks for first.
const (
	sgrReset  = "\x1b[0m"
	sgrBold   = "\x1b[1m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
	sgrCyan   = "\x1b[36m"
	sgrFaint  = "\x1b[2m"
)

func (f *lineFormatter) paint(sgr, s string) string {
	if !f.opts.Color || sgr == "" {
		return s
	}
	return sgr + s + sgrReset
}

func statusColor(s Status) string {
	switch s {
	case StatusOK:
		return sgrGreen
	case StatusChanged, StatusWouldRun:
		return sgrYellow
	case StatusFailed, StatusUnreachable:
		return sgrRed
	case StatusSkipped, StatusNotRun:
		return sgrCyan
	}
	return ""
}

// statusText is a status as a person reads it: "would run", not "would_run".
func statusText(s Status) string { return strings.ReplaceAll(string(s), "_", " ") }

// format returns the text for e, each line ending in a newline, or "".
func (f *lineFormatter) format(e Event) string {
	var b strings.Builder
	switch e.Type {
	case EventRunStart:
		f.check = e.Check
		for _, h := range e.Hosts {
			f.width = max(f.width, len(h))
		}
		what := "Applying"
		if e.Check {
			what = "Planning (check mode: nothing changes)"
		}
		fmt.Fprintf(&b, "%s on %s, run %s\n", what, countNoun(len(e.Hosts), "host"), e.Run)
	case EventListStart:
		fmt.Fprintf(&b, "%s %s\n", f.paint(sgrBold, e.List+":"), hostList(e.Hosts))
	case EventTask:
		f.task(&b, e)
	case EventOutput:
		f.lines(&b, e.Host, "", e.Line)
	case EventSummary:
		f.summary(&b, e)
	}
	return b.String()
}

// hostList names a few hosts and counts many.
func hostList(hosts []string) string {
	if len(hosts) > 5 || len(hosts) == 0 {
		return countNoun(len(hosts), "host")
	}
	return strings.Join(hosts, ", ")
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// prefix is "host | ", the host padded so the bars line up.
func (f *lineFormatter) prefix(host string) string {
	if host == "" {
		host = "-"
	}
	return fmt.Sprintf("%-*s | ", f.width, host)
}

// lines writes each line of text (redacted) behind the host's prefix and
// indent.
func (f *lineFormatter) lines(b *strings.Builder, host, indent, text string) {
	text = f.r.String(text)
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		b.WriteString(f.prefix(host))
		b.WriteString(indent)
		b.WriteString(termsafe.String(strings.TrimSuffix(l, "\r")))
		b.WriteByte('\n')
	}
}

// taskLabel is the task's address with its for_each key.
func taskLabel(e Event) string {
	if e.Each == "" {
		return e.Task
	}
	return fmt.Sprintf("%s[%q]", e.Task, e.Each)
}

// formatDuration is short and exact enough for a person: 12ms, 1.4s, 2m3s.
func formatDuration(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fms", ms)
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (f *lineFormatter) task(b *strings.Builder, e Event) {
	head := taskLabel(e) + ": " + f.paint(statusColor(e.Status), statusText(e.Status))
	var notes []string
	if e.DurMS > 0 {
		notes = append(notes, formatDuration(e.DurMS))
	}
	if e.Tries > 1 {
		notes = append(notes, fmt.Sprintf("%d tries", e.Tries))
	}
	if len(notes) > 0 {
		head += " (" + strings.Join(notes, ", ") + ")"
	}
	msg := strings.TrimSpace(f.r.String(e.Error))
	first, rest, _ := strings.Cut(msg, "\n")
	if first != "" {
		head += ": " + first
	}
	f.lines(b, e.Host, "", head)
	if rest != "" {
		f.lines(b, e.Host, "  ", rest)
	}
	if (f.check || f.opts.Diff) && (e.Status == StatusChanged || e.Status == StatusFailed) {
		f.diff(b, e.Host, e.Diff)
	}
}

// diff writes a change: for the file builtins' shape (before, after,
// content) each attribute as before -> after and the content's unified
// diff; for any other shape, the value itself.
func (f *lineFormatter) diff(b *strings.Builder, host string, d cty.Value) {
	if d == cty.NilVal || d.IsNull() {
		return
	}
	sensitive := plan.IsSensitive(d)
	d = f.r.Value(d)
	ty := d.Type()
	if !ty.IsObjectType() || !ty.HasAttribute("before") || !ty.HasAttribute("after") || !ty.HasAttribute("content") {
		f.lines(b, host, "  ", "diff: "+formatValue(d))
		return
	}
	before, after := stringAttrs(d.GetAttr("before")), stringAttrs(d.GetAttr("after"))
	names := make([]string, 0, len(before)+len(after))
	for k := range before {
		names = append(names, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		f.lines(b, host, "  ", fmt.Sprintf("%s: %s -> %s", k, quoteAttr(before[k]), quoteAttr(after[k])))
	}
	content := d.GetAttr("content")
	if !content.IsKnown() || content.IsNull() || content.Type() != cty.String {
		return
	}
	text := content.AsString()
	if sensitive && text == plan.Redacted {
		f.lines(b, host, "  ", "content: (sensitive value)")
		return
	}
	for _, l := range strings.Split(strings.TrimSuffix(f.r.String(text), "\n"), "\n") {
		if l == "" {
			continue
		}
		sgr := ""
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			sgr = sgrBold
		case strings.HasPrefix(l, "+"):
			sgr = sgrGreen
		case strings.HasPrefix(l, "-"):
			sgr = sgrRed
		case strings.HasPrefix(l, "@@"):
			sgr = sgrCyan
		}
		// A CR stays visible (^M) here: a diff may be of line endings.
		b.WriteString(f.prefix(host) + "  " + f.paint(sgr, termsafe.String(l)) + "\n")
	}
}

// stringAttrs reads a map or object of strings (masked values may have
// turned a map into an object).
func stringAttrs(v cty.Value) map[string]string {
	out := map[string]string{}
	ty := v.Type()
	// A diff comes from the target: only a map or an object has names.
	if v.IsNull() || !v.IsKnown() || !(ty.IsMapType() || ty.IsObjectType()) {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() || !ev.IsKnown() || ev.Type() != cty.String {
			out[k.AsString()] = formatValue(ev)
			continue
		}
		out[k.AsString()] = ev.AsString()
	}
	return out
}

func quoteAttr(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// formatValue writes a masked value in HCL syntax, as Terraform shows
// outputs.
func formatValue(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() {
		return "null"
	}
	if v.Type() == cty.String && (v.AsString() == plan.Redacted || v.AsString() == KnownAfterApply) {
		return v.AsString()
	}
	return strings.TrimSpace(string(hclwrite.Format(hclwrite.TokensForValue(v).Bytes())))
}

// recapColumns are the recap's columns; would run and not run appear only
// when some host has them.
var recapColumns = []struct {
	name     string
	get      func(*HostRecap) int
	optional bool
}{
	{"ok", func(r *HostRecap) int { return r.OK }, false},
	{"changed", func(r *HostRecap) int { return r.Changed }, false},
	{"failed", func(r *HostRecap) int { return r.Failed }, false},
	{"skipped", func(r *HostRecap) int { return r.Skipped }, false},
	{"unreachable", func(r *HostRecap) int { return r.Unreachable }, false},
	{"would run", func(r *HostRecap) int { return r.WouldRun }, true},
	{"not run", func(r *HostRecap) int { return r.NotRun }, true},
}

func (f *lineFormatter) summary(b *strings.Builder, e Event) {
	b.WriteString("\n")
	if e.Interrupted {
		b.WriteString(f.paint(sgrRed, "Interrupted: tasks not started are counted as not run.") + "\n\n")
	}
	b.WriteString(f.paint(sgrBold, "Recap:") + "\n")
	writeRecap(b, e.Recap)
	if len(e.Outputs) == 0 {
		return
	}
	b.WriteString("\n" + f.paint(sgrBold, "Outputs:") + "\n\n")
	names := make([]string, 0, len(e.Outputs))
	for k := range e.Outputs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := e.Outputs[k]
		text := plan.Redacted
		if !v.HasMark(plan.Sensitive) {
			text = formatValue(f.r.Value(v))
		}
		fmt.Fprintf(b, "%s = %s\n", k, text)
	}
}

// writeRecap writes the recap as a table, hosts sorted: names to the
// left, counts to the right under their headings.
func writeRecap(b *strings.Builder, recap map[string]*HostRecap) {
	hosts := make([]string, 0, len(recap))
	hostWidth := len("host")
	for h := range recap {
		hosts = append(hosts, h)
		hostWidth = max(hostWidth, len(h))
	}
	slices.Sort(hosts)
	var cols []int
	for i, c := range recapColumns {
		use := !c.optional
		for _, h := range hosts {
			if recap[h] != nil && c.get(recap[h]) > 0 {
				use = true
			}
		}
		if use {
			cols = append(cols, i)
		}
	}
	fmt.Fprintf(b, "%-*s", hostWidth, "host")
	for _, i := range cols {
		fmt.Fprintf(b, "  %s", recapColumns[i].name)
	}
	b.WriteString("\n")
	for _, h := range hosts {
		r := recap[h]
		if r == nil {
			r = &HostRecap{}
		}
		fmt.Fprintf(b, "%-*s", hostWidth, h)
		for _, i := range cols {
			fmt.Fprintf(b, "  %*d", len(recapColumns[i].name), recapColumns[i].get(r))
		}
		b.WriteString("\n")
	}
}
