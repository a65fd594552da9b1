package bigbuf

import (
	"bytes"
	"testing"
)

// A large buffer comes back zeroed, of the length and capacity asked for,
// and holds what is written to it.
func TestMake(t *testing.T) {
	for _, n := range []int{0, 1, threshold - 1, threshold, 3*threshold + 12345} {
		b := Make(n/2, n)
		if len(b) != n/2 || cap(b) != n {
			t.Fatalf("Make(%d, %d): len %d cap %d", n/2, n, len(b), cap(b))
		}
		if !bytes.Equal(b, make([]byte, n/2)) {
			t.Fatalf("Make(%d, %d) is not zeroed", n/2, n)
		}
		b = append(b, bytes.Repeat([]byte{7}, n-n/2)...)
		if len(b) != n || !bytes.Equal(b[:n/2], make([]byte, n/2)) || !bytes.Equal(b[n/2:], bytes.Repeat([]byte{7}, n-n/2)) {
			t.Fatalf("Make(%d, %d): writing back failed", n/2, n)
		}
	}
}
