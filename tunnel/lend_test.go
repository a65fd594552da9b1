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

// A local agent sends a fetched file's chunks to its pipe as pages, not
// copies, and reuses a chunk only once the controller has read it: four
// fetches of different files at once on one agent all arrive intact
// (a chunk reused too early would change bytes already "sent"), and the
// agent holds a few chunks at a time, not the files.
func TestFetchesLendingPagesArriveIntact(t *testing.T) {
	ctx := context.Background()
	tun, peer := localAgent(t, "lend")
	dir := t.TempDir()
	const files, size = 4, 48 << 20
	sums := make([]string, files)
	for i := range files {
		b := make([]byte, size)
		rand.Read(b)
		sum := sha256.Sum256(b)
		sums[i] = hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint("src", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	peakRSS(peer.PID) // resets the peak
	base := rss(peer.PID)
	var wg sync.WaitGroup
	errs := make([]error, files)
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := tun.Fetch(ctx, filepath.Join(dir, fmt.Sprint("src", i)), filepath.Join(dir, fmt.Sprint("dst", i)))
			if err == nil && res.SHA256 != sums[i] {
				err = fmt.Errorf("sha256 %s, want %s", res.SHA256, sums[i])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprint("dst", i)))
		if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != sums[i] {
			t.Fatalf("fetched file %d differs from its source", i)
		}
	}
	if grew := peakRSS(peer.PID) - base; grew > files*size/2 {
		t.Fatalf("the agent's memory grew by %d MiB moving %d MiB", grew>>20, files*size>>20)
	}
}
