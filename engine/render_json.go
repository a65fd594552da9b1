package engine

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"

	"github.com/chopplan/chopplan/plan"
)

// JSONRenderer is the Sink of `-output json`: one JSON object per event
// per line, ending with a summary event; docs/output.md is the schema.
type JSONRenderer struct {
	mu sync.Mutex
	w  io.Writer
	r  *Redactor
}

var _ Sink = (*JSONRenderer)(nil)

// NewJSONRenderer writes events to w as JSON lines, masked with r (which
// may be nil: marked values are masked all the same).
func NewJSONRenderer(w io.Writer, r *Redactor) *JSONRenderer {
	return &JSONRenderer{w: w, r: r}
}

// Event writes e as one line.
func (j *JSONRenderer) Event(e Event) {
	line := encodeEvent(e, j.r, "")
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(line)
}

// jsonEvent is the JSON shape of an event, shared by -output json and the
// journal. Event's own tags give the plain fields; the values come masked
// from the Redactor.
type jsonEvent struct {
	Event
	// DurMS shadows Event's omitempty field: a task event always says how
	// long it took, even 0.
	DurMS   *float64              `json:"duration_ms,omitempty"`
	Result  json.RawMessage       `json:"result,omitempty"`
	Diff    json.RawMessage       `json:"diff,omitempty"`
	Outputs map[string]outputJSON `json:"outputs,omitempty"`
	RetryOf string                `json:"retry_of,omitempty"`
}

// outputJSON is an output in `terraform output -json`'s shape.
type outputJSON struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value"`
}

// encodeEvent returns e as one line of JSON (with its newline), every
// string redacted and every value masked. retryOf goes on a journal's
// run_start.
func encodeEvent(e Event, r *Redactor, retryOf string) []byte {
	je := jsonEvent{Event: e, RetryOf: retryOf}
	je.Event.Error = r.String(e.Error)
	je.Event.Line = r.String(e.Line)
	if e.Type == EventTask {
		d := e.DurMS
		je.DurMS = &d
	}
	je.Result = valueJSON(r.Value(e.Result))
	je.Diff = valueJSON(r.Value(e.Diff))
	if len(e.Outputs) > 0 {
		je.Outputs = make(map[string]outputJSON, len(e.Outputs))
		for k, v := range e.Outputs {
			je.Outputs[k] = outputJSON{Sensitive: plan.IsSensitive(v), Value: valueJSON(r.Value(v))}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(je); err != nil {
		// Only a value json cannot hold gets here (a NaN duration): keep
		// the line, say why, and drop the values.
		buf.Reset()
		fallback := jsonEvent{Event: Event{Type: e.Type, Time: e.Time, Run: e.Run, Host: e.Host, List: e.List,
			Task: e.Task, Status: e.Status, Each: e.Each, Error: r.String(e.Error + " (event not encodable: " + err.Error() + ")")}}
		enc.Encode(fallback)
	}
	return buf.Bytes()
}
