package tunnel_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The sender of a put (the controller) or of a fetch (a local agent)
// hands its chunks to the pipe as pages, not copies, and reuses a chunk
// only once the other end has read it: four transfers of different files
// at once each way all arrive intact (a chunk reused too early would
// change bytes already "sent"), with four small ones among them whose
// payloads are copied into the same pipe between the lent ones, and the
// agent holds a few chunks at a time, not the files.
func TestTransfersLendingPagesArriveIntact(t *testing.T) {
	ctx := context.Background()
	tun, peer := localAgent(t, "lend")
	dir := t.TempDir()
	const big, size, small, smallSize = 4, 48 << 20, 4, 40 << 10
	const files = big + small
	sums := make([]string, files)
	path := func(kind string, i int) string { return filepath.Join(dir, fmt.Sprint(kind, i)) }
	for i := range files {
		b := make([]byte, size)
		if i >= big {
			b = b[:smallSize]
		}
		rand.Read(b)
		sum := sha256.Sum256(b)
		sums[i] = hex.EncodeToString(sum[:])
		if err := os.WriteFile(path("src", i), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	peakRSS(peer.PID) // resets the peak
	base := rss(peer.PID)
	moves := map[string]func(i int) (string, error){
		"fetched": func(i int) (string, error) {
			res, err := tun.Fetch(ctx, path("src", i), path("fetched", i))
			return res.SHA256, err
		},
		"put": func(i int) (string, error) {
			res, err := tun.Put(ctx, path("src", i), path("put", i), nil)
			return res.SHA256, err
		},
	}
	for kind, move := range moves {
		var wg sync.WaitGroup
		errs := make([]error, files)
		for i := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sum, err := move(i)
				if err == nil && sum != sums[i] {
					err = fmt.Errorf("sha256 %s, want %s", sum, sums[i])
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s %d: %v", kind, i, err)
			}
			got, _ := os.ReadFile(path(kind, i))
			if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != sums[i] {
				t.Fatalf("%s file %d differs from its source", kind, i)
			}
		}
	}
	if grew := peakRSS(peer.PID) - base; grew > big*size/2 {
		t.Fatalf("the agent's memory grew by %d MiB moving %d MiB each way; want under %d", grew>>20, big*size>>20, big*size/2>>20)
	}
}
