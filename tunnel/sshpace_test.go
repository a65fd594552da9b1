package tunnel

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

// probeRecorder stands in for the server: it checks, at each write, that
// no more than the writer's limit was ever written past what answered
// probes covered, and answers probes when told to.
type probeRecorder struct {
	t       *testing.T
	w       *pacedWriter
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
	r.w.mu.Lock()
	limit := r.w.limit // it only grows
	r.w.mu.Unlock()
	if ahead := r.buf.Len() - r.covered; int64(ahead) > limit {
		r.t.Errorf("%d bytes written past what the server was known to have read; the limit is %d", ahead, limit)
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

func newRecorder(t *testing.T, answer chan error) *probeRecorder {
	r := &probeRecorder{t: t, answer: answer}
	r.w = newPacedWriter(r, r.probe)
	return r
}

func TestPacedWriterKeepsWithinLimit(t *testing.T) {
	r := newRecorder(t, make(chan error))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16+7)
	done := make(chan error, 1)
	go func() {
		// A line first, then the upload, as the bootstrap sends them.
		if _, err := r.w.Write([]byte("put 1234\n")); err != nil {
			done <- err
			return
		}
		_, err := r.w.Write(payload)
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
			// Each answer lets at most the limit more through.
			r.w.mu.Lock()
			limit := r.w.limit
			r.w.mu.Unlock()
			if min := int64(len(payload))/limit - 1; int64(answered) < min {
				t.Fatalf("%d probes answered for %d bytes with a limit of %d: the writes were not paced", answered, len(payload), limit)
			}
			return
		case r.answer <- nil:
			answered++
		}
	}
}

func TestPacedWriterSmallWritesDoNotWait(t *testing.T) {
	r := newRecorder(t, make(chan error)) // never answers
	for i := 0; i < pacingChunk/100-1; i++ {
		if _, err := r.w.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probes != 0 {
		t.Fatalf("%d probes for less than a chunk written", r.probes)
	}
}

// A distant server: the limit grows with the round trip, so the pace is
// the network's, not the probes'.
func TestPacedWriterLimitGrowsWithRoundTrip(t *testing.T) {
	const rtt = 5 * time.Millisecond
	w := newPacedWriter(&bytes.Buffer{}, func() error { time.Sleep(rtt); return nil })
	if _, err := w.Write(make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if want := int64(2 * rtt.Seconds() * pacingRate); w.limit < want {
		t.Fatalf("limit %d after %v round trips; want at least %d", w.limit, rtt, want)
	}
}

func TestPacedWriterStopsPacingWhenProbeFails(t *testing.T) {
	answer := make(chan error, 1)
	answer <- errors.New("connection closed")
	w := newPacedWriter(&bytes.Buffer{}, func() error { return <-answer })
	n, err := w.Write(make([]byte, 4*pacingMin))
	if err != nil || n != 4*pacingMin {
		t.Fatalf("Write = %d, %v after the probe failed; want all of it written", n, err)
	}
}

// A server that never answers global requests: pacing ends after
// pacingGiveUp and the write goes through.
func TestPacedWriterStopsPacingWhenProbeUnanswered(t *testing.T) {
	never := make(chan error)
	defer close(never)
	w := newPacedWriter(&bytes.Buffer{}, func() error { <-never; return nil })
	n, err := w.Write(make([]byte, 4*pacingMin))
	if err != nil || n != 4*pacingMin {
		t.Fatalf("Write = %d, %v with probes unanswered; want all of it written", n, err)
	}
}
