package tunnel

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

// probeRecorder stands in for the server: it checks, at each probe, that
// no more than pacingLimit bytes were ever written past what earlier
// answers covered, and answers when told to.
type probeRecorder struct {
	t       *testing.T
	mu      sync.Mutex
	buf     bytes.Buffer
	covered int // bytes an answered probe has covered
	probes  int
	answer  chan error
}

func (r *probeRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(b)
	if ahead := r.buf.Len() - r.covered; ahead > pacingLimit {
		r.t.Errorf("%d bytes written past what the server was known to have read; the limit is %d", ahead, pacingLimit)
	}
	return len(b), nil
}

func (r *probeRecorder) probe() error {
	r.mu.Lock()
	at := r.buf.Len()
	r.probes++
	r.mu.Unlock()
	err := <-r.answer
	if err == nil {
		r.mu.Lock()
		r.covered = at
		r.mu.Unlock()
	}
	return err
}

func TestPacedWriterKeepsWithinLimit(t *testing.T) {
	r := &probeRecorder{t: t, answer: make(chan error)}
	w := newPacedWriter(r, r.probe)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16+7)
	done := make(chan error, 1)
	go func() {
		// A line first, then the upload, as the bootstrap sends them.
		if _, err := w.Write([]byte("put 1234\n")); err != nil {
			done <- err
			return
		}
		_, err := w.Write(payload)
		done <- err
	}()
	answered := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got := r.buf.Len(); got != len(payload)+9 || !bytes.Equal(r.buf.Bytes()[9:], payload) {
				t.Fatalf("the server got %d bytes, not the %d written, or not them", got, len(payload)+9)
			}
			if answered < len(payload)/pacingLimit {
				t.Fatalf("%d probes answered for %d bytes: the writes were not paced", answered, len(payload))
			}
			return
		case r.answer <- nil:
			answered++
		}
	}
}

func TestPacedWriterSmallWritesDoNotWait(t *testing.T) {
	r := &probeRecorder{t: t, answer: make(chan error)} // never answers
	w := newPacedWriter(r, r.probe)
	for i := 0; i < pacingChunk/100-1; i++ {
		if _, err := w.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probes != 0 {
		t.Fatalf("%d probes for less than a chunk written", r.probes)
	}
}

func TestPacedWriterStopsPacingWhenProbeFails(t *testing.T) {
	r := &probeRecorder{t: t, answer: make(chan error, 1)}
	r.answer <- errors.New("connection closed")
	w := newPacedWriter(&bytes.Buffer{}, r.probe) // the recorder's limit check does not apply
	n, err := w.Write(make([]byte, 4*pacingLimit))
	if err != nil || n != 4*pacingLimit {
		t.Fatalf("Write = %d, %v after the probe failed; want all of it written", n, err)
	}
}
