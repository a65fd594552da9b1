package agent

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
)

// An abort whose reason is longer than a frame holds still travels as
// one frame, its reason cut short: the stream ends, not the connection.
func TestAbortReasonFitsOneFrame(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := newSendStream(newConn("peer", a), 7)
	go s.close(errors.New(strings.Repeat("x", 2*MaxFramePayload)))
	f, err := readFrame(bufio.NewReader(b))
	if err != nil {
		t.Fatalf("the peer could not read the abort: %v", err)
	}
	if f.typ != frameDataEnd || f.id != 7 || len(f.payload) != maxAbortMessage {
		t.Fatalf("got a %s frame for %d with %d bytes", f.typ, f.id, len(f.payload))
	}
}
