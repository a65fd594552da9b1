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
// change bytes already "sent"), and the agent holds a few chunks at a
// time, not the files.
func TestTransfersLendingPagesArriveIntact(t *testing.T) {
	ctx := context.Background()
	tun, peer := localAgent(t, "lend")
	dir := t.TempDir()
	const files, size = 4, 48 << 20
	sums := make([]string, files)
	path := func(kind string, i int) string { return filepath.Join(dir, fmt.Sprint(kind, i)) }
	for i := range files {
		b := make([]byte, size)
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
	if grew := peakRSS(peer.PID) - base; grew > files*size/2 {
		t.Fatalf("the agent's memory grew by %d MiB moving %d MiB", grew>>20, 2*files*size>>20)
	}
}
