package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chopplan/chopplan/internal/chunk"
)

// A frame on the wire:
//
//	uint32 length   big-endian, counts type, id and payload
//	uint8  type
//	uint32 id       the call it belongs to (0 for the handshake)
//	[]byte payload  at most MaxFramePayload bytes
//
// Values larger than one frame travel as framePart frames followed by the
// frame that completes them (frameCall, frameResult).
const (
	frameHeaderLen = 9
	// MaxFramePayload is the largest payload a frame may carry; a longer
	// frame is a protocol error.
	MaxFramePayload = 1 << 20
	// dataChunk is the largest file-stream chunk a sender puts in one frame.
	dataChunk = 1 << 20
)

type frameType uint8

const (
	frameHello   frameType = iota + 1 // payload: JSON Hello
	framePart                         // payload: a part of the next Call or Result body
	frameCall                         // payload: last part of a call body
	frameResult                       // payload: last part of a result body
	frameCancel                       // empty, or cancelWithdraw
	frameOutput                       // payload: stream byte, then live output bytes
	frameData                         // payload: file-stream bytes
	frameDataEnd                      // payload: empty, or an error message that aborts the stream
	frameWindow                       // payload: uint32 bytes of credit for the call's data stream
	frameTypeEnd
)

// cancelWithdraw, as a cancel frame's payload, withdraws a queued call
// that has not started instead of cancelling it (Pending.Withdraw).
const cancelWithdraw = 'w'

var frameNames = [...]string{"", "hello", "part", "call", "result", "cancel", "output", "data", "data-end", "window"}

func (t frameType) String() string {
	if t > 0 && t < frameTypeEnd {
		return frameNames[t]
	}
	return fmt.Sprintf("frame-type-%d", uint8(t))
}

type frame struct {
	typ     frameType
	id      uint32
	payload []byte
	// chunk holds the payload of a data frame: a pooled buffer that the
	// stream's consumer releases.
	chunk *chunk.Chunk
}

// ProtocolError is a malformed, oversized or truncated frame, or a frame
// that breaks the protocol's rules. It ends the tunnel it arrived on.
type ProtocolError struct {
	Host   string
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("agent: protocol error from %s: %s", e.Host, e.Reason)
}

// readFrame reads one frame. The payload of a data or part frame is a
// pooled chunk, which the reader releases; any other payload is freshly
// allocated. Sizes are bounded by MaxFramePayload before any allocation.
func readFrame(r *bufio.Reader) (frame, error) {
	fr := frameReader{r: r}
	return fr.next()
}

// frameReader reads frames and can be interrupted part-way through one: a
// read that fails with a deadline (os.ErrDeadlineExceeded) keeps what was
// read of the frame, and the next call to next, by whichever goroutine
// reads the stream next, goes on from there. Only one goroutine reads at
// a time.
type frameReader struct {
	r    *bufio.Reader
	hdr  [frameHeaderLen]byte
	nhdr int   // header bytes read
	f    frame // the frame whose header is read (nhdr == frameHeaderLen)
	npay int   // payload bytes read
}

func (fr *frameReader) next() (frame, error) {
	for fr.nhdr < frameHeaderLen {
		n, err := fr.r.Read(fr.hdr[fr.nhdr:])
		fr.nhdr += n
		if fr.nhdr == frameHeaderLen {
			if err := fr.begin(); err != nil {
				return frame{}, err
			}
			break
		}
		if err != nil {
			if interrupted(err) {
				return frame{}, err
			}
			if err == io.EOF && fr.nhdr > 0 {
				return frame{}, fmt.Errorf("truncated frame header")
			}
			return frame{}, err
		}
	}
	for fr.npay < len(fr.f.payload) {
		n, err := fr.r.Read(fr.f.payload[fr.npay:])
		fr.npay += n
		if err != nil && fr.npay < len(fr.f.payload) {
			if interrupted(err) {
				return frame{}, err
			}
			if fr.f.chunk != nil {
				fr.f.chunk.Release()
			}
			typ := fr.f.typ
			fr.reset()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, fmt.Errorf("truncated %s frame: %v", typ, err)
		}
	}
	f := fr.f
	fr.reset()
	return f, nil
}

// begin checks the header just read and makes room for the payload.
func (fr *frameReader) begin() error {
	hdr := fr.hdr
	n := binary.BigEndian.Uint32(hdr[0:4])
	if n < frameHeaderLen-4 {
		return fmt.Errorf("frame length %d is shorter than its header", n)
	}
	size := int(n) - (frameHeaderLen - 4)
	if size > MaxFramePayload {
		return fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", size, MaxFramePayload)
	}
	f := frame{typ: frameType(hdr[4]), id: binary.BigEndian.Uint32(hdr[5:9])}
	if f.typ == 0 || f.typ >= frameTypeEnd {
		return fmt.Errorf("unknown frame type %d", hdr[4])
	}
	if size > 0 {
		if f.typ == frameData || f.typ == framePart {
			// Pooled: data is released once written, a part once its
			// body is joined.
			f.chunk = chunk.Get(size)
			f.payload = f.chunk.B
		} else {
			f.payload = make([]byte, size)
		}
	}
	fr.f = f
	return nil
}

func (fr *frameReader) reset() { fr.nhdr, fr.f, fr.npay = 0, frame{}, 0 }

// interrupted reports a read stopped by a deadline: the stream is fine,
// the reader was asked to step aside.
func interrupted(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// appendFrameHeader appends the header of a frame whose payload is size bytes.
func appendFrameHeader(b []byte, t frameType, id uint32, size int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(size+frameHeaderLen-4))
	b = append(b, byte(t))
	return binary.BigEndian.AppendUint32(b, id)
}
