package agent

import (
	"bufio"
	"bytes"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	buf.Write(rawFrame(frameCall, 7, []byte("payload")))
	buf.Write(rawFrame(frameCancel, 8, nil))
	r := bufio.NewReader(&buf)
	f, err := readFrame(r)
	if err != nil || f.typ != frameCall || f.id != 7 || string(f.payload) != "payload" {
		t.Fatalf("%+v, %v", f, err)
	}
	f, err = readFrame(r)
	if err != nil || f.typ != frameCancel || f.id != 8 || len(f.payload) != 0 {
		t.Fatalf("%+v, %v", f, err)
	}
}

// FuzzReadFrame: any byte stream yields frames or an error, never a panic
// or an allocation past the frame limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(rawFrame(frameResult, 1, []byte{0, 0xc0}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 5, 99, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if len(fr.payload) > MaxFramePayload || fr.typ == 0 || fr.typ >= frameTypeEnd {
				t.Fatalf("accepted %+v", fr)
			}
		}
	})
}
