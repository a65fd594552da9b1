package tunnel

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/docker/docker/api/types"
)

// An attach the daemon never answers gives up when the context ends, and
// the connection, should it come after all, is closed.
func TestHijackHeedsTheContext(t *testing.T) {
	release := make(chan struct{})
	ours, theirs := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { cancel() }()
	_, err := hijack(ctx, func() (types.HijackedResponse, error) {
		<-release // the daemon's answer, late
		return types.HijackedResponse{Conn: ours, Reader: bufio.NewReader(ours)}, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("hijack with a silent daemon: %v", err)
	}
	close(release)
	if _, err := theirs.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the late connection was not closed: %v", err)
	}

	a, _ := net.Pipe()
	resp, err := hijack(context.Background(), func() (types.HijackedResponse, error) {
		return types.HijackedResponse{Conn: a}, nil
	})
	if err != nil || resp.Conn != a {
		t.Fatalf("an answered attach: %v, %v", resp.Conn, err)
	}
}
