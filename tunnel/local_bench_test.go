package tunnel_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
)

func benchTunnel(b *testing.B) *tunnel.Tunnel {
	tun := tunnel.New(tunnel.Local("bench"), tunnel.Options{Output: io.Discard})
	b.Cleanup(func() { tun.Close() })
	if err := tun.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	return tun
}

// BenchmarkLocalRoundTrip: one trivial call at a time; reports the median.
func BenchmarkLocalRoundTrip(b *testing.B) {
	tun := benchTunnel(b)
	ctx := context.Background()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := tun.Call(ctx, "ping", nil); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds())/1000, "median-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds())/1000, "p99-µs")
}

// BenchmarkLocalInFlight10k: 10,000 calls in flight at once on one tunnel.
func BenchmarkLocalInFlight10k(b *testing.B) {
	tun := benchTunnel(b)
	ctx := context.Background()
	const n = 10000
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := tun.Call(ctx, "ping", nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkLargeResult: a 50 MB result value.
func BenchmarkLargeResult(b *testing.B) {
	tun := benchTunnel(b)
	ctx := context.Background()
	const n = 50 << 20
	b.SetBytes(n)
	b.ResetTimer()
	for range b.N {
		v, err := tun.Call(ctx, "tunneltest.blob", map[string]any{"n": n})
		if err != nil || len(v.AsString()) != n {
			b.Fatal(err)
		}
	}
}

// peakRSS reads a process's peak resident set (VmHWM) and resets it.
func peakRSS(pid int) int64 {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var kb int64
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ = strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	return kb << 10
}

func rss(pid int) int64 {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// memDir is a directory in memory (tmpfs) when the machine has one, so a
// transfer benchmark measures the transfer, not the disk: writing 1 GiB to
// this VM's disk costs 1-2 s of kernel time by itself.
func memDir(b testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "chopplan-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return b.TempDir()
}

func bigFile(b testing.TB, size int64) string {
	path := filepath.Join(memDir(b), "big")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 4<<20)
	rand.Read(chunk)
	for written := int64(0); written < size; written += int64(len(chunk)) {
		f.Write(chunk[:min(int64(len(chunk)), size-written)])
	}
	f.Close()
	return path
}

// benchTransfer puts (or fetches) a file of size bytes per iteration and
// reports how much either side's resident set grew at its peak, and, for
// context, how fast this process alone writes a new file of that size in
// the same directory (a VM whose fresh memory is slow to touch makes
// that the floor) and copies the source there.
func benchTransfer(b *testing.B, size int64, fetch bool) {
	tun := benchTunnel(b)
	ctx := context.Background()
	src := bigFile(b, size)
	dir := memDir(b)
	floor := writeFloor(b, dir, size) // reported at the end: ResetTimer drops metrics
	copyRate := copyFloor(b, src, dir)
	peer, _ := tun.Peer(ctx)
	baseAgent, baseSelf := rss(peer.PID), rss(os.Getpid())
	peakRSS(peer.PID)
	peakRSS(os.Getpid())
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		dest := filepath.Join(dir, fmt.Sprint("copy", i))
		var err error
		if fetch {
			_, err = tun.Fetch(ctx, src, dest)
		} else {
			_, err = tun.Put(ctx, src, dest, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(dest)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(peakRSS(peer.PID)-baseAgent)/(1<<20), "agent-rss-growth-MB")
	b.ReportMetric(float64(peakRSS(os.Getpid())-baseSelf)/(1<<20), "controller-rss-growth-MB")
	b.ReportMetric(floor, "plain-write-MB/s")
	b.ReportMetric(copyRate, "plain-copy-MB/s")
}

// copyFloor copies src to a new file in dir as cp does (the kernel copies,
// copy_file_range, nothing is hashed or checked) and returns the rate in
// MB/s: what a local transfer costs with no protocol and no verification.
func copyFloor(b *testing.B, src, dir string) float64 {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "copy-floor")
	defer os.Remove(path)
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	out.Close()
	if err != nil {
		b.Fatal(err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}

// writeFloor writes size bytes to a new file in dir, 1 MiB at a time, and
// returns the rate in MB/s.
func writeFloor(b *testing.B, dir string, size int64) float64 {
	path := filepath.Join(dir, "floor")
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for n := int64(0); n < size; n += int64(len(buf)) {
		f.Write(buf)
	}
	f.Sync()
	f.Close()
	return float64(size) / 1e6 / time.Since(start).Seconds()
}

func BenchmarkLocalPut1GiB(b *testing.B)   { benchTransfer(b, 1<<30, false) }
func BenchmarkLocalFetch1GiB(b *testing.B) { benchTransfer(b, 1<<30, true) }
func BenchmarkLocalPut2GiB(b *testing.B)   { benchTransfer(b, 2<<30, false) }

// BenchmarkLocalConnect50: 50 local tunnels connecting at once.
func BenchmarkLocalConnect50(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		tuns := make([]*tunnel.Tunnel, 50)
		var wg sync.WaitGroup
		for i := range tuns {
			tuns[i] = tunnel.New(tunnel.Local(fmt.Sprint("t", i)), tunnel.Options{Output: io.Discard})
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := tuns[i].Connect(ctx); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		for _, t := range tuns {
			t.Close()
		}
		b.StartTimer()
	}
}

// BenchmarkLocalConnectSerial: one local tunnel set up at a time.
func BenchmarkLocalConnectSerial(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		tun := tunnel.New(tunnel.Local("serial"), tunnel.Options{Output: io.Discard})
		if _, err := tun.Call(ctx, "ping", nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tun.Close()
		b.StartTimer()
	}
}

// BenchmarkLocalExecTrue: one `exec /bin/true` call at a time, the unit of
// an apply of short commands.
func BenchmarkLocalExecTrue(b *testing.B) {
	tun := benchTunnel(b)
	ctx := context.Background()
	args := map[string]any{"command": []string{"/bin/true"}}
	b.ResetTimer()
	for range b.N {
		if _, err := tun.Call(ctx, "exec", args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalExecTrueQueued: `exec /bin/true` calls one after another
// as apply sends a host's tasks: each call is sent while the one before
// runs, queued on the agent behind it (agent.CallOptions.After).
func BenchmarkLocalExecTrueQueued(b *testing.B) {
	tun := benchTunnel(b)
	ctx := context.Background()
	args := map[string]any{"command": []string{"/bin/true"}}
	b.ResetTimer()
	var prev *tunnel.Pending
	for range b.N {
		opts := &agent.CallOptions{Output: func(int, []byte) {}}
		if prev != nil {
			opts.After = prev.Pending
		}
		p, err := tun.StartWith(ctx, "exec", args, opts)
		if err != nil {
			b.Fatal(err)
		}
		if prev != nil {
			if _, err := prev.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		prev = p
	}
	if _, err := prev.Wait(); err != nil {
		b.Fatal(err)
	}
}

// echoEnv makes the test binary copy stdin to stdout a byte at a time:
// the other end of BenchmarkPipeFloor.
const echoEnv = "CHOPPLAN_TEST_ECHO"

func echo() {
	b := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(b); err != nil {
			return
		}
		os.Stdout.Write(b)
	}
}

// BenchmarkPipeFloor is the floor under BenchmarkLocalRoundTrip: a byte
// sent to another Go process over a pipe and back, with no protocol at
// all. It reports the median back to back, and after both processes have
// been idle for 100 µs and for 1 ms, as they are while a command runs (on
// a VM an idle CPU can be slow to wake).
func BenchmarkPipeFloor(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	one := []byte{1}
	median := func(n int, idle time.Duration) float64 {
		ds := make([]time.Duration, n)
		for i := range ds {
			if idle > 0 {
				time.Sleep(idle)
			}
			start := time.Now()
			if _, err := in.Write(one); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(out, one); err != nil {
				b.Fatal(err)
			}
			ds[i] = time.Since(start)
		}
		slices.Sort(ds)
		return float64(ds[n/2].Nanoseconds()) / 1000
	}
	b.ResetTimer()
	hot := median(max(b.N, 100), 0)
	b.StopTimer()
	b.ReportMetric(hot, "median-µs")
	b.ReportMetric(median(500, 100*time.Microsecond), "after-100µs-idle-median-µs")
	b.ReportMetric(median(500, time.Millisecond), "after-1ms-idle-median-µs")
}
