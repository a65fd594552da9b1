package tunnel

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/chopplan/chopplan/internal/termsafe"
)

// LineWriter prints output from many hosts to one writer, a whole line at
// a time, each prefixed with its host name: "web1 | line". Lines from
// different hosts never interleave mid-line.
type LineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLineWriter prints to w.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

// Stream returns a writer for one host's stream; partial lines wait for
// their end (or a Flush).
func (lw *LineWriter) Stream(host string, stream int) *LinePrefixer {
	return &LinePrefixer{lw: lw, prefix: host + " | "}
}

func (lw *LineWriter) host(name string) *hostLines {
	return &hostLines{streams: [2]*LinePrefixer{lw.Stream(name, 1), lw.Stream(name, 2)}}
}

// LinePrefixer writes complete lines with a prefix. What a host writes
// is data, shown, not obeyed (termsafe). A line's closing CR (CRLF) is
// dropped. A line longer
// than termsafe.MaxLine is printed in pieces, so a host writing without newlines
// makes the controller hold no more than that. Writes never fail: output
// is best effort, and a failed write to the Output loses that output,
// not the host's connection.
type LinePrefixer struct {
	lw      *LineWriter
	prefix  string
	mu      sync.Mutex
	partial []byte
}

func (p *LinePrefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		// A line is shown whole (termsafe), not as the writes that made
		// it: a write may end inside a character or a colour.
		line := append(p.partial, seg...)
		for len(line) > termsafe.MaxLine {
			cut := termsafe.Cut(line, termsafe.MaxLine)
			out = p.appendLine(out, line[:cut], false)
			line = line[cut:]
		}
		if i >= 0 {
			out = p.appendLine(out, line, true)
			line = line[:0]
			b = b[i+1:]
		} else {
			b = nil
		}
		p.partial = append(p.partial[:0], line...)
	}
	p.print(out)
	return n, nil
}

// appendLine appends line, with the prefix, as the terminal is to show
// it; ended tells a line that ended (its CR of a CRLF is dropped) from a
// piece of one.
func (p *LinePrefixer) appendLine(out, line []byte, ended bool) []byte {
	if ended {
		line = bytes.TrimSuffix(line, []byte{'\r'})
	}
	out = append(out, p.prefix...)
	out = termsafe.Append(out, line)
	return append(out, '\n')
}

func (p *LinePrefixer) print(out []byte) {
	if len(out) == 0 {
		return
	}
	p.lw.mu.Lock()
	p.lw.w.Write(out)
	p.lw.mu.Unlock()
}

// Flush prints a pending partial line.
func (p *LinePrefixer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		p.print(p.appendLine(nil, p.partial, false))
		p.partial = p.partial[:0]
	}
}

// hostLines routes a call's live output (stream 1 or 2) to prefixers.
type hostLines struct{ streams [2]*LinePrefixer }

func (h *hostLines) write(stream int, p []byte) {
	if stream == 1 || stream == 2 {
		h.streams[stream-1].Write(p)
	}
}

func (h *hostLines) flush() {
	h.streams[0].Flush()
	h.streams[1].Flush()
}

// tailBuffer keeps the last few KiB written to it: what an agent said on
// stderr before it failed to start.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func (t *tailBuffer) lastLine() string {
	s := strings.TrimSpace(t.String())
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
