package engine

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/term"
)

// TTYOptions tune the terminal display.
type TTYOptions struct {
	// Diff prints the diff of every changed task (apply -diff); check mode
	// always does.
	Diff bool
	// Verbose prints a line for every task, ok and skipped ones too; by
	// default those only count in the status area.
	Verbose bool
	// MaxHosts is how many hosts the status area names (8 when 0); the
	// rest are counted.
	MaxHosts int
	// Interval is how often the status area is redrawn (100ms when 0).
	Interval time.Duration
	// Width is the terminal's width; when nil it is asked of the output
	// file, 80 columns when that fails.
	Width func() int
}

// TTYRenderer is the Sink for a stdout that is a terminal: a status area
// at the bottom (the list running, counts, and what each host last did)
// redrawn in place, and above it, as lines that stay, failures, changes,
// diffs and live output in the plain-line format.
//
// Drawing is done by one ticker under the same lock as events: each
// redraw erases the status area, writes the lines that came since, and
// draws the area again, every line cut to the terminal's width so the
// cursor arithmetic holds. Hosts' lines therefore never mix with the
// status area or with each other.
type TTYRenderer struct {
	w    io.Writer
	opts TTYOptions
	f    *lineFormatter

	mu      sync.Mutex
	pending strings.Builder // lines to write above the status area
	drawn   int             // lines of the status area on screen
	model   ttyModel
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

var _ Sink = (*TTYRenderer)(nil)

// NewTTYRenderer starts the display on w, every string redacted with r.
// Call Close when the run is over (after the summary event, or instead
// of it when the run fails).
func NewTTYRenderer(w io.Writer, r *Redactor, opts TTYOptions) *TTYRenderer {
	if opts.MaxHosts <= 0 {
		opts.MaxHosts = 8
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Width == nil {
		opts.Width = func() int {
			if f, ok := w.(*os.File); ok {
				if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
					return cols
				}
			}
			return 80
		}
	}
	t := &TTYRenderer{
		w: w, opts: opts,
		f:       newLineFormatter(r, LineOptions{Diff: opts.Diff, Color: true}),
		model:   ttyModel{hosts: map[string]*ttyHost{}, now: time.Now},
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go t.tick()
	return t
}

func (t *TTYRenderer) tick() {
	defer close(t.stopped)
	tk := time.NewTicker(t.opts.Interval)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			t.mu.Lock()
			if !t.closed {
				t.redraw(true)
			}
			t.mu.Unlock()
		}
	}
}

// Event records e; the next redraw shows it. The summary ends the
// display: the status area goes and the recap and outputs are printed.
func (t *TTYRenderer) Event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.model.update(e)
	if e.Type == EventSummary {
		t.pending.WriteString(t.f.format(e))
		t.finish()
		return
	}
	if e.Type == EventTask && !t.opts.Verbose && (e.Status == StatusOK || e.Status == StatusSkipped || e.Status == StatusNotRun) {
		return
	}
	if e.Type == EventRunStart || e.Type == EventListStart {
		// The formatter learns check mode and host widths from these; the
		// status area says the rest.
		t.f.format(e)
		return
	}
	t.pending.WriteString(t.f.format(e))
}

// Close ends the display, leaving what was printed and no status area.
func (t *TTYRenderer) Close() error {
	t.mu.Lock()
	if !t.closed {
		t.finish()
	}
	t.mu.Unlock()
	<-t.stopped
	return nil
}

// finish draws the last time, without the status area; t.mu is held.
func (t *TTYRenderer) finish() {
	t.closed = true
	t.redraw(false)
	close(t.stop)
}

// redraw replaces the status area by the pending lines and, when status
// is true, a new status area; t.mu is held.
func (t *TTYRenderer) redraw(status bool) {
	var b strings.Builder
	if t.drawn > 0 {
		b.WriteString("\r")
		if t.drawn > 1 {
			b.WriteString(ansi.CursorUp(t.drawn - 1))
		}
		b.WriteString(ansi.EraseScreenBelow)
	}
	b.WriteString(t.pending.String())
	t.pending.Reset()
	t.drawn = 0
	if status {
		width := max(t.opts.Width()-1, 20)
		lines := t.model.view(t.opts.MaxHosts)
		for i, l := range lines {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(ansi.Truncate(l, width, "…"))
		}
		t.drawn = len(lines)
	}
	io.WriteString(t.w, b.String())
}

// ttyModel is what the status area shows, kept from the events.
type ttyModel struct {
	now     func() time.Time
	started time.Time
	check   bool
	list    string
	hosts   map[string]*ttyHost
	total   HostRecap
	seq     int
}

// ttyHost is one host's line in the status area.
type ttyHost struct {
	name    string
	task    string // the task it last finished, or is printing output of
	status  Status // of that task; "" while it is running
	seq     int    // when it was last heard of, to show the busiest hosts
	dropped bool   // failed or unreachable: it runs nothing more
	// done and total are the bytes of the transfer it is in, if any.
	done, total int64
}

func (m *ttyModel) host(name string) *ttyHost {
	h := m.hosts[name]
	if h == nil {
		h = &ttyHost{name: name}
		m.hosts[name] = h
	}
	return h
}

func (m *ttyModel) update(e Event) {
	m.seq++
	switch e.Type {
	case EventRunStart:
		m.started, m.check = e.Time, e.Check
		if m.started.IsZero() {
			m.started = m.now()
		}
		for _, h := range e.Hosts {
			m.host(h)
		}
	case EventListStart:
		m.list = e.List
	case EventOutput:
		h := m.host(e.Host)
		h.task, h.status, h.seq = taskLabel(e), "", m.seq
	case EventProgress:
		h := m.host(e.Host)
		h.task, h.status, h.seq = taskLabel(e), "", m.seq
		h.done, h.total = e.Done, e.Total
	case EventTask:
		h := m.host(e.Host)
		h.task, h.status, h.seq = taskLabel(e), e.Status, m.seq
		h.done, h.total = 0, 0
		h.dropped = h.dropped || e.Status == StatusFailed || e.Status == StatusUnreachable
		m.total.Add(e.Status)
	}
}

// view is the status area's lines: a headline, then the hosts heard from
// last, by name.
func (m *ttyModel) view(maxHosts int) []string {
	var head []string
	if m.list != "" {
		head = append(head, m.list)
	}
	head = append(head, countNoun(len(m.hosts), "host"))
	for _, c := range []struct {
		n    int
		name string
	}{{m.total.OK, "ok"}, {m.total.Changed, "changed"}, {m.total.Failed, "failed"},
		{m.total.Skipped, "skipped"}, {m.total.Unreachable, "unreachable"}, {m.total.WouldRun, "would run"}} {
		if c.n > 0 {
			head = append(head, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	if !m.started.IsZero() {
		head = append(head, m.now().Sub(m.started).Round(time.Second).String())
	}
	lines := []string{sgrBold + strings.Join(head, " · ") + sgrReset}

	hosts := make([]*ttyHost, 0, len(m.hosts))
	width := 0
	for _, h := range m.hosts {
		if h.task != "" {
			hosts = append(hosts, h)
			width = max(width, len(h.name))
		}
	}
	slices.SortFunc(hosts, func(a, b *ttyHost) int { return b.seq - a.seq })
	more := 0
	if len(hosts) > maxHosts {
		more = len(hosts) - maxHosts
		hosts = hosts[:maxHosts]
	}
	slices.SortFunc(hosts, func(a, b *ttyHost) int { return strings.Compare(a.name, b.name) })
	for _, h := range hosts {
		what := h.task + ": running"
		if h.total > 0 {
			what = h.task + ": " + progressBar(h.done, h.total)
		}
		if h.status != "" {
			what = h.task + ": " + statusColor(h.status) + statusText(h.status) + sgrReset
		}
		if h.dropped {
			what += sgrFaint + " (dropped out)" + sgrReset
		}
		lines = append(lines, fmt.Sprintf("  %-*s  %s", width, h.name, what))
	}
	if more > 0 {
		noun := "hosts"
		if more == 1 {
			noun = "host"
		}
		lines = append(lines, fmt.Sprintf("  … and %d more %s", more, noun))
	}
	return lines
}

// progressBar draws a transfer's progress: [#####-----] 50% 512 MiB of 1.0 GiB.
func progressBar(done, total int64) string {
	const width = 20
	filled := int(done * width / total)
	return fmt.Sprintf("[%s%s] %3d%% %s of %s", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		done*100/total, byteSize(done), byteSize(total))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
