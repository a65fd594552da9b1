package hashpipe

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chopplan/chopplan/internal/chunk"
)

// TreeBlock is the block size of a tree digest.
const TreeBlock = 8 << 20

// treePrefix names the digest's form, so no other sha256 input can be
// mistaken for it.
const treePrefix = "chopplan tree digest, 8 MiB blocks\x00"

// Tree is the tree digest of the size bytes of r: the sha256 of a prefix
// naming the form, the size, and the sha256 of each 8 MiB block in turn.
// It is as strong a check of content as the sha256 of the whole, and its
// blocks hash in parallel, one per processor: comparing a large file with
// its copy costs a fraction of the time of one sequential hash. It gives
// up, between blocks, once ctx is done.
func Tree(ctx context.Context, r io.ReaderAt, size int64) ([]byte, error) {
	blocks := int((size + TreeBlock - 1) / TreeBlock)
	sums := make([][sha256.Size]byte, blocks)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(blocks, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := chunk.Get(chunk.Size)
			defer c.Release()
			for {
				i := next.Add(1) - 1
				if i >= int64(blocks) {
					return
				}
				if err := ctx.Err(); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if err := hashBlock(r, i*TreeBlock, min(TreeBlock, size-i*TreeBlock), c.B, &sums[i]); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(blocks)) // the others stop too
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	h := sha256.New()
	h.Write([]byte(treePrefix))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(size)))
	for i := range sums {
		h.Write(sums[i][:])
	}
	return h.Sum(nil), nil
}

func hashBlock(r io.ReaderAt, off, n int64, buf []byte, out *[sha256.Size]byte) error {
	h := sha256.New()
	for n > 0 {
		k, err := r.ReadAt(buf[:min(int64(len(buf)), n)], off)
		h.Write(buf[:k])
		off += int64(k)
		n -= int64(k)
		if err != nil && (err != io.EOF || n > 0) {
			if err == io.EOF {
				return io.ErrUnexpectedEOF // the file shrank
			}
			return err
		}
	}
	h.Sum(out[:0])
	return nil
}
