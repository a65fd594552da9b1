package engine

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// screen is a small terminal: it understands what TTYRenderer writes
// (text, CR, LF, cursor up, erase below, colours) and keeps the lines a
// person would see, scrollback included.
type screen struct {
	rows     []string
	row, col int
}

func (s *screen) write(text string) {
	p := []rune(text)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\r':
			s.col = 0
		case '\n':
			s.row++
			s.col = 0
		case 0x1b:
			j := i + 2 // past ESC [
			for j < len(p) && (p[j] < 0x40 || p[j] > 0x7e) {
				j++
			}
			n, _ := strconv.Atoi(string(p[i+2 : j]))
			switch p[j] {
			case 'A':
				s.row -= max(n, 1)
			case 'J':
				s.grow()
				r := []rune(s.rows[s.row])
				s.rows[s.row] = string(r[:min(s.col, len(r))])
				s.rows = s.rows[:s.row+1]
			}
			i = j
		default:
			s.grow()
			r := []rune(s.rows[s.row])
			for len(r) < s.col {
				r = append(r, ' ')
			}
			s.rows[s.row] = string(r[:s.col]) + string(c) + string(r[min(s.col+1, len(r)):])
			s.col++
		}
	}
}

func (s *screen) grow() {
	for len(s.rows) <= s.row {
		s.rows = append(s.rows, "")
	}
}

func (s *screen) text() string { return strings.Join(s.rows, "\n") }

// syncBuffer is a writer the renderer's ticker and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func TestTTYRendererKeepsLinesWhole(t *testing.T) {
	var out syncBuffer
	// No tick comes within the test: redraws are called by hand.
	tty := NewTTYRenderer(&out, nil, TTYOptions{Interval: time.Hour, MaxHosts: 2, Width: func() int { return 60 }})
	tty.model.now = func() time.Time { return t0tty.Add(90 * time.Second) }
	hosts := []string{"h0", "h1", "h2"}
	tty.Event(Event{Type: EventRunStart, Time: t0tty, Hosts: hosts})
	tty.Event(Event{Type: EventListStart, List: "tasks.deploy", Hosts: hosts})
	var want []string
	for i := range 30 {
		h := hosts[i%3]
		tty.Event(Event{Type: EventOutput, Host: h, Task: "tasks.deploy.run", Line: fmt.Sprintf("output %d of %s", i, h)})
		want = append(want, fmt.Sprintf("%s | output %d of %s", h, i, h))
		tty.Event(Event{Type: EventTask, Host: h, Task: fmt.Sprintf("tasks.deploy.t%d", i), Status: StatusOK})
		if i%4 == 0 {
			tty.mu.Lock()
			tty.redraw(true)
			tty.mu.Unlock()
		}
	}
	tty.Event(Event{Type: EventTask, Host: "h1", Task: "tasks.deploy.last", Status: StatusFailed, Error: "boom"})
	want = append(want, "h1 | tasks.deploy.last: failed: boom")

	tty.mu.Lock()
	tty.redraw(true)
	tty.mu.Unlock()
	var s screen
	s.write(stripSGR(out.b.String()))
	got := s.text()
	wantScreen := strings.Join(want, "\n") + "\n" + strings.Join([]string{
		"tasks.deploy · 3 hosts · 30 ok · 1 failed · 1m30s",
		"  h1  tasks.deploy.last: failed (dropped out)",
		"  h2  tasks.deploy.t29: ok",
		"  … and 1 more host",
	}, "\n")
	if got != wantScreen {
		t.Errorf("screen:\n%s\nwant:\n%s", got, wantScreen)
	}

	tty.Event(Event{Type: EventSummary, Recap: map[string]*HostRecap{"h0": {OK: 10}, "h1": {OK: 10, Failed: 1}, "h2": {OK: 10}}})
	if err := tty.Close(); err != nil {
		t.Fatal(err)
	}
	s = screen{}
	s.write(stripSGR(out.b.String()))
	wantEnd := strings.Join(want, "\n") + "\n\nRecap:\n" +
		"host  ok  changed  failed  skipped  unreachable\n" +
		"h0    10        0       0        0            0\n" +
		"h1    10        0       1        0            0\n" +
		"h2    10        0       0        0            0"
	if got := s.text(); got != wantEnd {
		t.Errorf("after the summary the screen is:\n%s\nwant:\n%s", got, wantEnd)
	}
	// Events after the end are dropped, not drawn over the recap.
	tty.Event(Event{Type: EventOutput, Host: "h0", Line: "late"})
	if strings.Contains(out.b.String(), "late") {
		t.Errorf("an event after Close was printed")
	}
}

var t0tty = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestTTYStatusLinesFitTheWidth(t *testing.T) {
	var out syncBuffer
	tty := NewTTYRenderer(&out, nil, TTYOptions{Interval: time.Hour, Width: func() int { return 30 }})
	tty.Event(Event{Type: EventTask, Host: "a-very-long-host-name.example.com", Task: "tasks.deploy.a_task_with_a_long_name", Status: StatusChanged})
	for range 2 { // the second draw erases the first: what follows is the status area
		tty.mu.Lock()
		tty.redraw(true)
		tty.mu.Unlock()
	}
	tty.Close()
	all := stripSGR(out.b.String())
	area := all[strings.Index(all, "\x1b[J")+3:]
	area = area[:strings.Index(area, "\r")]
	for _, l := range strings.Split(area, "\n") {
		if len([]rune(l)) > 29 {
			t.Errorf("status line %q is wider than the terminal", l)
		}
	}
}

func TestTTYShowsTransferProgress(t *testing.T) {
	m := &ttyModel{now: time.Now, hosts: map[string]*ttyHost{}}
	m.update(Event{Type: EventProgress, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.bundle", Done: 20 << 20, Total: 40 << 20})
	view := strings.Join(m.view(8), "\n")
	if !strings.Contains(view, "[##########----------]  50% 20 MiB of 40 MiB") {
		t.Fatalf("status area:\n%s", view)
	}
	m.update(Event{Type: EventTask, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.bundle", Status: StatusChanged})
	if view := strings.Join(m.view(8), "\n"); strings.Contains(view, "[#") {
		t.Fatalf("the bar outlived its transfer:\n%s", view)
	}
}
