package hashpipe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// treeReference computes the tree digest block by block, in order.
func treeReference(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(treePrefix))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(data))))
	for off := 0; off < len(data); off += TreeBlock {
		s := sha256.Sum256(data[off:min(off+TreeBlock, len(data))])
		h.Write(s[:])
	}
	return h.Sum(nil)
}

func TestTree(t *testing.T) {
	data := make([]byte, 3*TreeBlock+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	for _, n := range []int{0, 1, 4096, TreeBlock - 1, TreeBlock, TreeBlock + 1, 2 * TreeBlock, len(data)} {
		got, err := Tree(context.Background(), bytes.NewReader(data[:n]), int64(n))
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if want := treeReference(data[:n]); !bytes.Equal(got, want) {
			t.Fatalf("size %d: %x, want %x", n, got, want)
		}
	}
	// One changed byte anywhere changes the digest.
	a, _ := Tree(context.Background(), bytes.NewReader(data), int64(len(data)))
	data[2*TreeBlock+5] ^= 1
	b, _ := Tree(context.Background(), bytes.NewReader(data), int64(len(data)))
	if bytes.Equal(a, b) {
		t.Fatal("a changed byte left the digest as it was")
	}
	// A reader shorter than the size given is an error, not a digest.
	if _, err := Tree(context.Background(), bytes.NewReader(data[:100]), 200); err == nil {
		t.Fatal("a short read gave a digest")
	}
}

func TestTreeGivesUpWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := make([]byte, 2*TreeBlock)
	if d, err := Tree(ctx, bytes.NewReader(data), int64(len(data))); err != context.Canceled {
		t.Fatalf("Tree with a cancelled context: %x, %v; want context.Canceled", d, err)
	}
}
