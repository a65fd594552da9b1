package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// fakeAgent answers the handshake like an agent, then lets a test send
// whatever bytes it likes: a compromised or broken target.
func fakeAgent(t *testing.T, script func(r *bufio.Reader, w io.Writer)) *Client {
	t.Helper()
	cl, _ := fakeAgentConn(t, script)
	return cl
}

// fakeAgentConn is fakeAgent that also gives the controller's end of the
// stream.
func fakeAgentConn(t *testing.T, script func(r *bufio.Reader, w io.Writer)) (*Client, net.Conn) {
	t.Helper()
	ctrl, ag := socketPair(t)
	go func() {
		defer ag.Close()
		r := bufio.NewReader(ag)
		if _, err := readHello("test", r); err != nil {
			return
		}
		hb, _ := json.Marshal(Hello{Protocol: ProtocolVersion, Version: "fake", Build: "fake"})
		ag.Write(rawFrame(frameHello, 0, hb))
		script(r, ag)
	}()
	cl, err := NewClient(context.Background(), ctrl, ClientConfig{Host: "evil1", MaxResult: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, ctrl
}

// socketPair is a buffered, bidirectional byte stream like an agent's
// pipes (net.Pipe is unbuffered, which no real transport is).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

func rawFrame(typ frameType, id uint32, payload []byte) []byte {
	return append(appendFrameHeader(nil, typ, id, len(payload)), payload...)
}

// awaitCall reads frames until a call arrives and returns its id.
func awaitCall(r *bufio.Reader) uint32 {
	for {
		f, err := readFrame(r)
		if err != nil || f.typ == frameCall {
			return f.id
		}
	}
}

func TestHostileAgent(t *testing.T) {
	bomb := []byte{statusOK, 0x92, 0xa1, '"', 0xdd, 0xff, 0xff, 0xff, 0xff} // [type, array of 4G elements]
	cases := []struct {
		name string
		send func(id uint32, w io.Writer)
		want string
	}{
		{"oversized frame", func(id uint32, w io.Writer) {
			hdr := binary.BigEndian.AppendUint32(nil, 1<<31)
			w.Write(append(hdr, byte(frameResult), 0, 0, 0, byte(id)))
		}, "exceeds the"},
		{"unknown frame type", func(id uint32, w io.Writer) { w.Write(rawFrame(77, id, nil)) }, "unknown frame type"},
		{"truncated frame", func(id uint32, w io.Writer) {
			f := rawFrame(frameResult, id, []byte{statusOK, 0xc0, 1, 2, 3})
			w.Write(f[:len(f)-3])
			w.(io.Closer).Close() // the stream ends mid-frame
		}, "truncated"},
		{"garbage value", func(id uint32, w io.Writer) { w.Write(rawFrame(frameResult, id, []byte{statusOK, 0xc1})) }, "malformed value"},
		{"allocation bomb", func(id uint32, w io.Writer) { w.Write(rawFrame(frameResult, id, bomb)) }, "exceeds the"},
		{"deep nesting", func(id uint32, w io.Writer) {
			deep := append([]byte{statusOK}, []byte(strings.Repeat("\x91", 10000))...)
			w.Write(rawFrame(frameResult, id, append(deep, 0xc0)))
		}, "nesting deeper"},
		{"malformed error", func(id uint32, w io.Writer) {
			b, _ := EncodeValue(cty.StringVal("not an error object"))
			w.Write(rawFrame(frameResult, id, append([]byte{statusFailed}, b...)))
		}, "malformed error result"},
		{"data nobody asked for", func(id uint32, w io.Writer) { w.Write(rawFrame(frameData, id, []byte("x"))) }, "asked for none"},
		{"endless parts", func(id uint32, w io.Writer) {
			chunk := rawFrame(framePart, id, make([]byte, MaxFramePayload))
			for i := 0; i <= 32; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			cl := fakeAgent(t, func(r *bufio.Reader, w io.Writer) {
				tc.send(awaitCall(r), w)
				io.Copy(io.Discard, r)
			})
			_, err := cl.Call(context.Background(), "ping", cty.NilVal, nil)
			var ce *ConnError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "evil1") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a ConnError naming evil1 and %q", err, tc.want)
			}
			if _, err := cl.Call(context.Background(), "ping", cty.NilVal, nil); !IsConnError(err) {
				t.Fatalf("the tunnel survived a protocol error: %v", err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
				t.Fatalf("heap grew by %d MiB", grew>>20)
			}
		})
	}
}

func TestBannerBeforeHandshake(t *testing.T) {
	ctrl, ag := socketPair(t)
	go func() {
		io.WriteString(ag, "Welcome to host! Last login: yesterday\n")
		io.Copy(io.Discard, ag)
	}()
	_, err := NewClient(context.Background(), ctrl, ClientConfig{Host: "web9"})
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "Welcome to host") || !strings.Contains(err.Error(), "web9") {
		t.Fatalf("err = %v", err)
	}
}

func TestVersionMismatch(t *testing.T) {
	ctrl, ag := socketPair(t)
	go func() {
		r := bufio.NewReader(ag)
		readHello("test", r)
		hb, _ := json.Marshal(Hello{Protocol: ProtocolVersion + 1, Version: "v9.9.9", Build: "other"})
		ag.Write(rawFrame(frameHello, 0, hb))
		io.Copy(io.Discard, r)
	}()
	_, err := NewClient(context.Background(), ctrl, ClientConfig{Host: "web3", Self: Hello{Version: "v1.0.0"}})
	var ve *VersionError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "v9.9.9") || !strings.Contains(err.Error(), "v1.0.0") {
		t.Fatalf("err = %v", err)
	}
}
