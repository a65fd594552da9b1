package tunnel

import (
	"bytes"
	"io"
	"strings"
	"sync"
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

// LinePrefixer writes complete lines with a prefix.
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
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		out = append(out, p.prefix...)
		out = append(out, p.partial...)
		out = append(out, b[:i+1]...)
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
	p.partial = append(p.partial, b...)
	if len(out) > 0 {
		p.lw.mu.Lock()
		_, err := p.lw.w.Write(out)
		p.lw.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Flush prints a pending partial line.
func (p *LinePrefixer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) == 0 {
		return
	}
	line := p.prefix + string(p.partial) + "\n"
	p.partial = p.partial[:0]
	p.lw.mu.Lock()
	io.WriteString(p.lw.w, line)
	p.lw.mu.Unlock()
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
