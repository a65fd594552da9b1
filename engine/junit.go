package engine

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chopplan/chopplan/internal/atomicfile"
)

// maxCaseOutput bounds the live output kept for one test case: a CI page
// wants the tail of a failing command, not a gigabyte of log.
const maxCaseOutput = 64 << 10

// JUnitWriter is the Sink of `-junit FILE`: a JUnit XML report with a
// testsuite per host and a testcase per task on that host (classname the
// host, name the task's address), written atomically when the run ends.
// Failed tasks carry a failure element, unreachable hosts an error
// element (the task did not fail, the host was not there), and skipped,
// would-run and not-run tasks a skipped element. A task's live output is
// its system-out.
type JUnitWriter struct {
	path string
	r    *Redactor

	mu      sync.Mutex
	start   time.Time
	hosts   []string
	cases   map[string][]*junitCase // by host, in the order tasks finished
	output  map[string]*strings.Builder
	written bool
	err     error
}

var _ Sink = (*JUnitWriter)(nil)

// NewJUnitWriter writes the report to path when the summary event comes
// (or on Close), every string redacted with r.
func NewJUnitWriter(path string, r *Redactor) *JUnitWriter {
	return &JUnitWriter{path: path, r: r, cases: map[string][]*junitCase{}, output: map[string]*strings.Builder{}}
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Skipped   int          `xml:"skipped,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr,omitempty"`
	Cases     []*junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`

	durMS float64
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// outputKey keys a task's live output on a host.
func outputKey(e Event) string { return e.Host + "\x00" + e.Task + "\x00" + e.Each }

// Event records e; the summary writes the file.
func (j *JUnitWriter) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch e.Type {
	case EventRunStart:
		j.start = e.Time
		j.hosts = slices.Clone(e.Hosts)
	case EventOutput:
		k := outputKey(e)
		b := j.output[k]
		if b == nil {
			b = &strings.Builder{}
			j.output[k] = b
		}
		if b.Len() < maxCaseOutput {
			b.WriteString(j.r.String(e.Line))
			b.WriteByte('\n')
			if b.Len() >= maxCaseOutput {
				b.WriteString("(output truncated)\n")
			}
		}
	case EventTask:
		j.task(e)
	case EventSummary:
		for h := range e.Recap {
			if !slices.Contains(j.hosts, h) {
				j.hosts = append(j.hosts, h)
			}
		}
		j.err = j.write()
	}
}

func (j *JUnitWriter) task(e Event) {
	c := &junitCase{Name: taskLabel(e), Classname: e.Host, Time: seconds(e.DurMS), durMS: e.DurMS}
	if b := j.output[outputKey(e)]; b != nil {
		c.SystemOut = b.String()
		delete(j.output, outputKey(e))
	}
	msg := j.r.String(e.Error)
	first, _, _ := strings.Cut(msg, "\n")
	switch e.Status {
	case StatusFailed:
		c.Failure = &junitProblem{Message: first, Type: string(e.Status), Text: msg}
	case StatusUnreachable:
		c.Error = &junitProblem{Message: first, Type: string(e.Status), Text: msg}
	case StatusSkipped:
		c.Skipped = &junitProblem{Message: "skipped"}
	case StatusWouldRun:
		c.Skipped = &junitProblem{Message: "would run: the builtin has no check mode"}
	case StatusNotRun:
		c.Skipped = &junitProblem{Message: "not run: the run stopped before this task"}
	}
	if !slices.Contains(j.hosts, e.Host) {
		j.hosts = append(j.hosts, e.Host)
	}
	j.cases[e.Host] = append(j.cases[e.Host], c)
}

func seconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }

// Close writes the report if no summary event did (a run that ended in an
// error) and returns the error of writing it.
func (j *JUnitWriter) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.written {
		j.err = j.write()
	}
	return j.err
}

func (j *JUnitWriter) write() error {
	j.written = true
	doc := junitSuites{Name: "chopplan"}
	var total float64
	for _, h := range j.hosts {
		s := junitSuite{Name: h, Cases: j.cases[h]}
		if !j.start.IsZero() {
			s.Timestamp = j.start.UTC().Format(time.RFC3339)
		}
		var ms float64
		for _, c := range s.Cases {
			s.Tests++
			ms += c.durMS
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		s.Time = seconds(ms)
		total += ms
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	err := atomicfile.Write(j.path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	})
	if err != nil {
		return fmt.Errorf("engine: writing the JUnit report %s: %w", j.path, err)
	}
	return nil
}
