package builtins_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// TestMain lets the test binary serve as the agent the tests start, so
// every builtin here runs in a real agent behind a real tunnel.
func TestMain(m *testing.M) { tunneltest.Main(m.Run) }

// local returns a tunnel to an agent on this machine, closed when t ends.
func local(t *testing.T) *tunnel.Tunnel {
	t.Helper()
	tun := tunnel.New(tunnel.Local("local"), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	t.Cleanup(func() { tun.Close() })
	return tun
}

// call runs fn on tun, in check mode when check is set.
func call(tun *tunnel.Tunnel, fn string, args map[string]any, check bool) (cty.Value, error) {
	return tun.CallWith(context.Background(), fn, args, &agent.CallOptions{Check: check})
}

func mustCall(t *testing.T, tun *tunnel.Tunnel, fn string, args map[string]any, check bool) cty.Value {
	t.Helper()
	v, err := call(tun, fn, args, check)
	if err != nil {
		t.Fatalf("%s %v (check %v): %v", fn, args, check, err)
	}
	return v
}

// converge is the life of an idempotent task: a check-mode run changes
// nothing on disk and predicts the diff, the real run applies exactly
// that diff, and a second run has nothing left to do. It returns the
// first real run's result.
func converge(t *testing.T, tun *tunnel.Tunnel, fn string, args map[string]any, root string, wantChange bool) cty.Value {
	t.Helper()
	before := snapshot(t, root)
	planned := mustCall(t, tun, fn, args, true)
	if after := snapshot(t, root); after != before {
		t.Fatalf("check mode changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	first := mustCall(t, tun, fn, args, false)
	if got := first.GetAttr("changed").True(); got != wantChange {
		t.Fatalf("first run: changed = %v, want %v; result %s", got, wantChange, show(first))
	}
	if !planned.GetAttr("changed").RawEquals(first.GetAttr("changed")) {
		t.Errorf("check mode predicted changed = %v, the run reported %v", planned.GetAttr("changed").True(), first.GetAttr("changed").True())
	}
	if d := "diff"; first.Type().HasAttribute(d) && !planned.GetAttr(d).RawEquals(first.GetAttr(d)) {
		t.Errorf("check mode predicted the diff\n%s\nthe run applied\n%s", show(planned.GetAttr(d)), show(first.GetAttr(d)))
	}
	if !wantChange && snapshot(t, root) != before {
		t.Errorf("a run that reported no change changed the file system")
	}
	second := mustCall(t, tun, fn, args, false)
	if second.GetAttr("changed").True() {
		t.Errorf("second run changed again: %s", show(second))
	}
	if again := mustCall(t, tun, fn, args, true); again.GetAttr("changed").True() {
		t.Errorf("check mode after convergence still predicts a change: %s", show(again))
	}
	return first
}

// snapshot describes every path under root: type, mode, owner, mtime and
// content or link target, one line each.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d:%d %d", p, fi.Mode(), st.Uid, st.Gid, fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", c)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// show formats a result for a failure message.
func show(v cty.Value) string {
	if v == cty.NilVal {
		return "<none>"
	}
	return v.GoString()
}

// diffOf returns a result's diff: the attributes before and after, and
// the content diff.
func diffOf(v cty.Value) (before, after map[string]string, content string) {
	d := v.GetAttr("diff")
	conv := func(m cty.Value) map[string]string {
		out := map[string]string{}
		for k, e := range m.AsValueMap() {
			out[k] = e.AsString()
		}
		return out
	}
	return conv(d.GetAttr("before")), conv(d.GetAttr("after")), d.GetAttr("content").AsString()
}

// wantError checks that err is a remote failure whose message has want.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	var re *agent.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want a remote error saying %q", err, err, want)
	}
	if !strings.Contains(re.Message, want) {
		t.Errorf("error %q, want it to say %q", re.Message, want)
	}
}

func writeFile(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func intVal(i int64) cty.Value { return cty.NumberIntVal(i) }
