package engine

import (
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Status is what became of a task on a host.
type Status string

// Task statuses, as Ansible users know them. In check mode (chopplan plan)
// changed means "would change", and a task whose builtin has no check mode
// is WouldRun.
const (
	StatusOK          Status = "ok"          // ran, changed nothing
	StatusChanged     Status = "changed"     // ran and changed something
	StatusFailed      Status = "failed"      // ran and failed
	StatusSkipped     Status = "skipped"     // when was false, a guard held, or the host had dropped out
	StatusUnreachable Status = "unreachable" // the host's agent could not be reached
	StatusWouldRun    Status = "would_run"   // check mode: the builtin cannot tell, so it was not run
	StatusNotRun      Status = "not_run"     // never started: a failure budget or an interrupt stopped the run
)

// EventType says what an Event reports.
type EventType string

// Event types, in the order a run emits them.
const (
	EventRunStart  EventType = "run_start"  // Run set: ID, Hosts, Check
	EventListStart EventType = "list_start" // List, Hosts (a batch of a list starts)
	EventTask      EventType = "task"       // a task finished on a host: Host, List, Task, Status, Result...
	EventOutput    EventType = "output"     // a line of live output: Host, Task, Stream, Line
	EventProgress  EventType = "progress"   // a transfer moved on: Host, Task, Done, Total (bytes)
	EventSummary   EventType = "summary"    // the run ended: Recap, Outputs, Interrupted
)

// Event is one thing that happened in a run. Renderers (lines, JSON,
// JUnit, the journal) all read the same events. Values in Result and
// Outputs may be marked sensitive (plan.Sensitive): every renderer must
// mask them, and Error and Line must go through the run's Redactor.
type Event struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	// Run identifies the run (also the journal's file name).
	Run string `json:"run,omitempty"`

	Host   string  `json:"host,omitempty"`
	List   string  `json:"list,omitempty"` // tasks.NAME
	Task   string  `json:"task,omitempty"` // tasks.NAME.TASK
	Status Status  `json:"status,omitempty"`
	Each   string  `json:"each,omitempty"` // the for_each key, when the task has one
	Tries  int     `json:"tries,omitempty"`
	DurMS  float64 `json:"duration_ms,omitempty"`
	Error  string  `json:"error,omitempty"`
	// Result is the builtin's result (with changed, failed, skipped).
	Result cty.Value `json:"-"`
	// Diff is what a change does (or would do, in check mode): the
	// builtin's diff attribute, when it reports one.
	Diff cty.Value `json:"-"`

	// Live output (EventOutput): stream 1 stdout, 2 stderr, one line without its newline.
	Stream int    `json:"stream,omitempty"`
	Line   string `json:"line,omitempty"`

	// Transfer progress: bytes done of Total (Total 0 when not known).
	Done  int64 `json:"done,omitempty"`
	Total int64 `json:"total,omitempty"`

	// Run start and list start.
	Hosts []string `json:"hosts,omitempty"`
	Check bool     `json:"check,omitempty"`

	// Summary.
	Recap       map[string]*HostRecap `json:"recap,omitempty"`
	Outputs     map[string]cty.Value  `json:"-"`
	Interrupted bool                  `json:"interrupted,omitempty"`
}

// HostRecap counts a host's task statuses over a run.
type HostRecap struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Unreachable int `json:"unreachable"`
	WouldRun    int `json:"would_run,omitempty"`
	NotRun      int `json:"not_run,omitempty"`
}

// Add counts one status.
func (r *HostRecap) Add(s Status) {
	switch s {
	case StatusOK:
		r.OK++
	case StatusChanged:
		r.Changed++
	case StatusFailed:
		r.Failed++
	case StatusSkipped:
		r.Skipped++
	case StatusUnreachable:
		r.Unreachable++
	case StatusWouldRun:
		r.WouldRun++
	case StatusNotRun:
		r.NotRun++
	}
}

// Sink receives a run's events. Event is called from many goroutines; a
// sink serialises what it needs to. Events of one host arrive in order.
type Sink interface {
	Event(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Event calls f.
func (f SinkFunc) Event(e Event) { f(e) }

// Sinks fans events out to several sinks, in order.
type Sinks []Sink

// Event passes e to every sink.
func (s Sinks) Event(e Event) {
	for _, k := range s {
		k.Event(e)
	}
}
