package tunneltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
)

// Target describes what a kind's target offers, so the contract checks
// everything the target can do.
type Target struct {
	// New returns a fresh tunnel to the target; output lines go to out.
	New func(t *testing.T, out *SyncBuffer) *tunnel.Tunnel
	// Shell is true when the target has /bin/sh and coreutils.
	Shell bool
	// Shared is true when a new tunnel reaches the same process table and
	// file system as an earlier one (false for a throwaway container).
	Shared bool
	// Dir is a writable directory on the target.
	Dir string
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond every 20ms until it holds or the bound passes. The
// bound guards against a hang; it is not what the test measures.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs the contract against target.
func Run(t *testing.T, target Target) {
	ctx := context.Background()
	open := func(t *testing.T) (*tunnel.Tunnel, *SyncBuffer) {
		out := &SyncBuffer{}
		tun := target.New(t, out)
		t.Cleanup(func() { tun.Close() })
		return tun, out
	}
	procs := func(t *testing.T, tun *tunnel.Tunnel, marker string) []string {
		v, err := tun.Call(ctx, "tunneltest.procs", map[string]any{"marker": marker})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range v.AsValueSlice() {
			out = append(out, e.AsString())
		}
		return out
	}
	sleeper := func(t *testing.T, tun *tunnel.Tunnel, marker string) []string {
		exe, err := tun.Call(ctx, "tunneltest.exe", nil)
		if err != nil {
			t.Fatal(err)
		}
		return []string{exe.AsString(), SleepCommand, marker}
	}

	t.Run("Ping", func(t *testing.T) {
		tun, _ := open(t)
		v, err := tun.Call(ctx, "ping", nil)
		if err != nil || v.AsString() != "pong" {
			t.Fatalf("ping = %v, %v", v, err)
		}
		peer, err := tun.Peer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if peer.Protocol != agent.ProtocolVersion || peer.OS != "linux" || peer.PID == 0 {
			t.Fatalf("peer hello = %+v", peer)
		}
	})

	t.Run("Facts", func(t *testing.T) {
		tun, _ := open(t)
		v, err := tun.Call(ctx, "facts", nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.GetAttr("os").AsString() != "linux" || v.GetAttr("hostname").AsString() == "" {
			t.Fatalf("facts = %#v", v)
		}
		if n, _ := v.GetAttr("cpus").AsBigFloat().Int64(); n < 1 {
			t.Fatalf("cpus = %d", n)
		}
	})

	t.Run("CustomFunctionValues", func(t *testing.T) {
		tun, _ := open(t)
		in := cty.ObjectVal(map[string]cty.Value{
			"s": cty.StringVal("héllo\x00"), "n": cty.NumberFloatVal(1.5), "l": cty.ListVal([]cty.Value{cty.True, cty.False}),
			"m": cty.MapVal(map[string]cty.Value{"k": cty.NumberIntVal(-7)}), "null": cty.NullVal(cty.String),
		})
		v, err := tun.Call(ctx, "tunneltest.echo", map[string]any{"value": in})
		if err != nil {
			t.Fatal(err)
		}
		if !v.RawEquals(in) {
			t.Fatalf("echo = %#v, want %#v", v, in)
		}
	})

	t.Run("LargeResult", func(t *testing.T) {
		tun, _ := open(t)
		const n = 5 << 20
		v, err := tun.Call(ctx, "tunneltest.blob", map[string]any{"n": n})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.AsString()) != n {
			t.Fatalf("blob of %d bytes, want %d", len(v.AsString()), n)
		}
	})

	t.Run("UnknownFunction", func(t *testing.T) {
		tun, _ := open(t)
		_, err := tun.Call(ctx, "no.such.function", nil)
		var re *agent.RemoteError
		if !errors.As(err, &re) || re.Kind != agent.KindUnknownFunction || re.Host != tun.Name() {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		tun, _ := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := tun.Call(ctx, "tunneltest.echo", map[string]any{"value": i})
				if err == nil {
					if n, _ := v.AsBigFloat().Int64(); int(n) != i {
						err = fmt.Errorf("call %d got %d", i, n)
					}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("PutFetch", func(t *testing.T) {
		tun, _ := open(t)
		local := t.TempDir()
		data := make([]byte, 9<<20+123) // several flow-control windows
		rand.Read(data)
		src := filepath.Join(local, "src")
		os.WriteFile(src, data, 0o600)
		remote := target.Dir + "/contract-" + strings.ReplaceAll(t.Name(), "/", "-")
		res, err := tun.Put(ctx, src, remote, &tunnel.PutOptions{Mode: 0o640})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.Size != int64(len(data)) {
			t.Fatalf("first put = %+v", res)
		}
		again, err := tun.Put(ctx, src, remote, &tunnel.PutOptions{Mode: 0o640})
		if err != nil || again.Changed || again.SHA256 != res.SHA256 {
			t.Fatalf("unchanged put = %+v, %v", again, err)
		}
		chmod, err := tun.Put(ctx, src, remote, &tunnel.PutOptions{Mode: 0o600})
		if err != nil || !chmod.Changed {
			t.Fatalf("mode-only put = %+v, %v", chmod, err)
		}
		st, err := tun.Call(ctx, "stat", map[string]any{"path": remote})
		if err != nil || st.GetAttr("mode").AsBigFloat().String() != "384" {
			t.Fatalf("stat after mode change = %v, %v", st, err)
		}
		back := filepath.Join(local, "back")
		fr, err := tun.Fetch(ctx, remote, back)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(back)
		if !bytes.Equal(got, data) || fr.SHA256 != res.SHA256 {
			t.Fatalf("fetched %d bytes (sha %s), want %d (sha %s)", len(got), fr.SHA256, len(data), res.SHA256)
		}
		tmp, err := tun.Put(ctx, src, "", nil)
		if err != nil || tmp.RemotePath == "" || tmp.RemotePath == remote {
			t.Fatalf("put to a temp path = %+v, %v", tmp, err)
		}
		ft, err := tun.Fetch(ctx, tmp.RemotePath, "")
		if err != nil || ft.SHA256 != res.SHA256 {
			t.Fatalf("fetch to a temp path = %+v, %v", ft, err)
		}
		os.Remove(ft.LocalPath)
		_, err = tun.Fetch(ctx, target.Dir+"/does-not-exist", filepath.Join(local, "missing"))
		if err == nil {
			t.Fatal("fetching a missing file succeeded")
		}
		if _, serr := os.Stat(filepath.Join(local, "missing")); serr == nil {
			t.Fatal("a failed fetch left a local file")
		}
	})

	t.Run("AgentDiesMidCall", func(t *testing.T) {
		tun, _ := open(t)
		pid1, err := tun.Call(ctx, "tunneltest.pid", nil)
		if err != nil {
			t.Fatal(err)
		}
		blocked := make(chan error, 1)
		go func() {
			_, err := tun.Call(ctx, "tunneltest.block", nil)
			blocked <- err
		}()
		_, err = tun.Call(ctx, "tunneltest.die", nil)
		if !agent.IsConnError(err) || !strings.Contains(err.Error(), tun.Name()) {
			t.Fatalf("call on a dying agent: %v", err)
		}
		if err := <-blocked; !agent.IsConnError(err) {
			t.Fatalf("call in flight on a dying agent: %v", err)
		}
		pid2, err := tun.Call(ctx, "tunneltest.pid", nil)
		if err != nil {
			t.Fatalf("no reconnect after the agent died: %v", err)
		}
		if pid2.Equals(pid1).True() && target.Shared {
			t.Fatalf("same agent pid %s after it died", pid2.GoString())
		}
	})

	if !target.Shell {
		return
	}

	t.Run("Exec", func(t *testing.T) {
		tun, out := open(t)
		v, err := tun.Call(ctx, "exec", map[string]any{
			"command": "echo out-$X; echo err >&2; cat", "env": map[string]any{"X": "1"}, "stdin": "from-stdin\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := v.GetAttr("stdout").AsString(); s != "out-1\nfrom-stdin\n" {
			t.Fatalf("stdout = %q", s)
		}
		if s := out.String(); !strings.Contains(s, tun.Name()+" | out-1\n") || !strings.Contains(s, tun.Name()+" | err\n") {
			t.Fatalf("live output = %q", s)
		}
		_, err = tun.Call(ctx, "exec", map[string]any{"command": []string{"sh", "-c", "echo bad >&2; exit 3"}})
		var re *agent.RemoteError
		if !errors.As(err, &re) || re.Value == cty.NilVal || re.Value.GetAttr("rc").AsBigFloat().String() != "3" || !strings.Contains(re.Message, "bad") {
			t.Fatalf("failing command: %v", err)
		}
		v, err = tun.Call(ctx, "exec", map[string]any{"command": []string{"sh", "-c", "exit 3"}, "ok_codes": []int{0, 3}})
		if err != nil {
			t.Fatalf("allowed status: %v", err)
		}
	})

	t.Run("CancelKillsProcessGroup", func(t *testing.T) {
		tun, _ := open(t)
		marker := fmt.Sprintf("cancel-%d", time.Now().UnixNano())
		argv := sleeper(t, tun, marker)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			// A shell with a child: the whole group must die, not just sh.
			_, err := tun.Call(cctx, "exec", map[string]any{"command": []string{"sh", "-c", strings.Join(argv, " ") + " & wait"}})
			done <- err
		}()
		waitFor(t, "the command to start", func() bool { return len(procs(t, tun, marker)) >= 2 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call returned %v", err)
		}
		waitFor(t, "the cancelled command's processes to end", func() bool { return len(procs(t, tun, marker)) == 0 })
	})

	if !target.Shared {
		return
	}

	t.Run("CloseLeavesNoProcess", func(t *testing.T) {
		tun, _ := open(t)
		marker := fmt.Sprintf("close-%d", time.Now().UnixNano())
		argv := sleeper(t, tun, marker)
		go tun.Call(ctx, "exec", map[string]any{"command": argv})
		waitFor(t, "the command to start", func() bool { return len(procs(t, tun, marker)) == 1 })
		peer, _ := tun.Peer(ctx)
		tun.Close()
		probe, _ := open(t)
		waitFor(t, "the closed agent's processes to end", func() bool {
			return len(procs(t, probe, marker)) == 0 && len(procs(t, probe, fmt.Sprintf("/proc/%d", peer.PID))) == 0
		})
		v, _ := probe.Call(ctx, "stat", map[string]any{"path": fmt.Sprintf("/proc/%d", peer.PID)})
		if v.GetAttr("exists").True() {
			t.Fatalf("agent %d still running after Close", peer.PID)
		}
	})
}
