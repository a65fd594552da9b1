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
	if ahead := r.buf.Len() - r.covered; ahead > pacingMin {
		r.t.Errorf("%d bytes written past what the server was known to have read; the limit is %d", ahead, pacingMin)
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
	r.w.rate = 0 // the limit stays pacingMin, whatever the round trips
	return r
}

func TestPacedWriterKeepsWithinLimit(t *testing.T) {
	answer := make(chan error)
	t.Cleanup(func() { close(answer) }) // the probe still waiting, if any
	r := newRecorder(t, answer)
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
			if min := len(payload)/pacingMin - 1; answered < min {
				t.Fatalf("%d probes answered for %d bytes with a limit of %d: the writes were not paced", answered, len(payload), pacingMin)
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
	if _, err := w.Write(make([]byte, 16<<20)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if want := int64(2 * rtt.Seconds() * pacingRate); w.limit < want {
		t.Fatalf("limit %d after %v round trips; want at least %d", w.limit, rtt, want)
	}
}

// The first round trips wait behind the data sent before them: the limit
// grows from them no faster than doubling with each answer, and comes
// down when a shorter round trip shows the link is near.
func TestPacedWriterLimitGrowsByDoubling(t *testing.T) {
	// Slow round trips ask for a limit of 16 × pacingMin; a round trip
	// under 6 ms asks for no more than pacingMin.
	const slow = 100 * time.Millisecond
	rtts := []time.Duration{slow, slow}
	var limits []int64
	var w *pacedWriter
	w = newPacedWriter(&bytes.Buffer{}, func() error {
		w.mu.Lock()
		limits = append(limits, w.limit)
		w.mu.Unlock()
		if len(rtts) > 0 {
			time.Sleep(rtts[0])
			rtts = rtts[1:]
		}
		return nil
	})
	w.rate = 16 * pacingMin / (2 * slow.Seconds())
	if _, err := w.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	limits = append(limits, w.limit)
	if len(limits) < 4 || limits[0] != pacingMin || limits[1] != 2*pacingMin || limits[2] != 4*pacingMin || limits[len(limits)-1] != pacingMin {
		t.Fatalf("limits seen by successive probes: %v; want %d, doubling twice, then back to %d", limits, pacingMin, pacingMin)
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
	w.giveUp = 10 * time.Millisecond
	n, err := w.Write(make([]byte, 4*pacingMin))
	if err != nil || n != 4*pacingMin {
		t.Fatalf("Write = %d, %v with probes unanswered; want all of it written", n, err)
	}
}

// A near server whose first answers come late (they wait behind the data
// sent before them): the limit stays pacingMin.
func TestPacedWriterNearLinkKeepsLimit(t *testing.T) {
	late := 2 // answers that take 5 ms: under w.near, but enough to ask for more
	maxLimit := int64(0)
	var w *pacedWriter
	w = newPacedWriter(&bytes.Buffer{}, func() error {
		w.mu.Lock()
		maxLimit = max(maxLimit, w.limit)
		w.mu.Unlock()
		if late > 0 {
			late--
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
	w.near = time.Second // a sleep overshoots; the near link is scaled up with it
	if _, err := w.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if maxLimit != pacingMin || w.limit != pacingMin {
		t.Fatalf("limit rose to %d (now %d) on a link whose round trips are under %v; want %d throughout", maxLimit, w.limit, w.near, pacingMin)
	}
}

// A host with keepalives off (ServerAliveInterval 0) may be one that does
// not answer them: its bootstrap is not paced.
func TestBootstrapNotPacedWithKeepalivesOff(t *testing.T) {
	stdin := &bytes.Buffer{}
	probe := func() error { return nil }
	if w := bootstrapWriter(stdin, -1, probe); w != stdin {
		t.Fatalf("keepalives off: the bootstrap writes through %T", w)
	}
	if w, ok := bootstrapWriter(stdin, 15*time.Second, probe).(*pacedWriter); !ok || w.w != stdin {
		t.Fatal("keepalives on: the bootstrap is not paced")
	}
}
