package engine

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/chopplan/chopplan/internal/termsafe"
)

// outputLines turns a call's live output into one output event per line.
// While held (a queued call's, until its task's turn), the lines wait, so
// that they follow the report of the task before it.
type outputLines struct {
	r          *runner
	host, task string
	mu         sync.Mutex
	partial    [3][]byte // by stream
	held       bool
	waiting    []Event
	heldBytes  int // of waiting, counted as in emit
	dropped    int // lines not kept: waiting was full
}

func (r *runner) outputLines(host, task string) *outputLines {
	return &outputLines{r: r, host: host, task: task}
}

func (o *outputLines) write(stream int, p []byte) {
	if stream != 1 && stream != 2 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	buf := append(o.partial[stream], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		o.emit(Event{Type: EventOutput, Host: o.host, Task: o.task, Stream: stream, Line: string(buf[:i])})
		buf = buf[i+1:]
	}
	// A line that does not end is sent in pieces: a host writing without
	// newlines cannot make the controller hold all it writes.
	for len(buf) > termsafe.MaxLine {
		cut := termsafe.Cut(buf, termsafe.MaxLine)
		o.emit(Event{Type: EventOutput, Host: o.host, Task: o.task, Stream: stream, Line: string(buf[:cut])})
		buf = buf[cut:]
	}
	o.partial[stream] = append(o.partial[stream][:0], buf...)
}

// emit sends a line, or keeps it while held, up to maxHeldOutput bytes:
// a target may send output for a call queued behind one that never ends,
// and past that the lines are counted, not kept. o.mu is held.
func (o *outputLines) emit(e Event) {
	if !o.held {
		o.r.emit(e)
		return
	}
	if o.dropped > 0 || o.heldBytes+len(e.Line)+heldLineOverhead > maxHeldOutput {
		o.dropped++ // and every line after: no gap in what is kept
		return
	}
	o.heldBytes += len(e.Line) + heldLineOverhead
	o.waiting = append(o.waiting, e)
}

// maxHeldOutput bounds the output kept back for a queued call, and
// heldLineOverhead is what keeping a line costs besides its text.
const (
	maxHeldOutput    = 16 << 20
	heldLineOverhead = 256
)

// hold keeps the lines back until release.
func (o *outputLines) hold() {
	o.mu.Lock()
	o.held = true
	o.mu.Unlock()
}

// release sends the lines kept back, and those to come as they come.
func (o *outputLines) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held = false
	for _, e := range o.waiting {
		o.r.emit(e)
	}
	if o.dropped > 0 {
		o.r.emit(Event{Type: EventOutput, Host: o.host, Task: o.task, Stream: 2,
			Line: fmt.Sprintf("(chopplan: %d lines of output dropped: more than %d MiB came while the task waited its turn)", o.dropped, maxHeldOutput>>20)})
	}
	o.waiting, o.heldBytes, o.dropped = nil, 0, 0
}

func (o *outputLines) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for s, p := range o.partial {
		if len(p) > 0 {
			o.emit(Event{Type: EventOutput, Host: o.host, Task: o.task, Stream: s, Line: string(p)})
			o.partial[s] = nil
		}
	}
}

// agentStderr turns what an agent says on its own stderr (already cut
// into "host | line" lines by the tunnel) into output events.
type agentStderr struct {
	r    *runner
	host string
}

func (a *agentStderr) Write(p []byte) (int, error) {
	prefix := a.host + " | "
	for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		a.r.emit(Event{Type: EventOutput, Host: a.host, Stream: 2, Line: strings.TrimPrefix(line, prefix)})
	}
	return len(p), nil
}
