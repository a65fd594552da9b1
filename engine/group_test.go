package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func locals(out *tunneltest.SyncBuffer, names ...string) []*tunnel.Tunnel {
	var ts []*tunnel.Tunnel
	for _, n := range names {
		ts = append(ts, tunnel.New(tunnel.Local(n), tunnel.Options{Output: out}))
	}
	return ts
}

func group(ts ...*tunnel.Tunnel) *engine.Group {
	targets := make([]engine.Target, len(ts))
	for i, t := range ts {
		targets[i] = t
	}
	return engine.NewGroup(targets...)
}

func TestGroupSetOperations(t *testing.T) {
	ts := locals(nil, "a", "b", "c", "d")
	ab, bc := group(ts[0], ts[1]), group(ts[1], ts[2])
	for _, tc := range []struct {
		name string
		got  *engine.Group
		want []string
	}{
		{"union", ab.Union(bc, ts[3]), []string{"a", "b", "c", "d"}},
		{"intersection", ab.Intersection(bc), []string{"b"}},
		{"difference", ab.Difference(bc), []string{"a"}},
		{"symmetric difference", ab.SymmetricDifference(bc), []string{"a", "c"}},
		{"duplicates by name", engine.NewGroup(ts[0], tunnel.New(tunnel.Local("a"), tunnel.Options{}), ts[1]), []string{"a", "b"}},
		{"a tunnel is a group of one", engine.NewGroup(ts[2]).Union(ts[2]), []string{"c"}},
	} {
		if names := tc.got.Names(); !reflect.DeepEqual(names, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, names, tc.want)
		}
	}
}

func TestGroupCallGathersSuccessesAndFailures(t *testing.T) {
	testenv.Root(t)
	ctx := context.Background()
	out := &tunneltest.SyncBuffer{}
	g := group(append(locals(out, "a", "b"), tunnel.New(tunnel.Sudo("ghost", "no-such-user-y"), tunnel.Options{Output: out}))...)
	defer g.Close()
	res := g.Call(ctx, "exec", map[string]any{"command": []string{"sh", "-c", "test $0 = ok", "ok"}})
	if res.Len() != 3 || res.Failed() != 1 {
		t.Fatalf("results: %d, failed %d", res.Len(), res.Failed())
	}
	var hosts []string
	for h := range res.Successful() {
		hosts = append(hosts, h)
	}
	if !reflect.DeepEqual(hosts, []string{"a", "b"}) {
		t.Fatalf("successful hosts = %v", hosts)
	}
	_, err := res.Get("ghost")
	var f *engine.Failure
	if !errors.As(err, &f) || !f.Unreachable || !strings.Contains(f.Message, "no-such-user-y") {
		t.Fatalf("ghost's failure = %#v", err)
	}
	var ge *engine.GroupError
	if err := res.Err(); !errors.As(err, &ge) || len(ge.Failures) != 1 || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("Err() = %v", err)
	}

	res = g.Call(ctx, "exec", map[string]any{"command": []string{"sh", "-c", "exit 7"}})
	_, err = res.Get("a")
	if !errors.As(err, &f) || f.Unreachable || f.Value == cty.NilVal || f.Value.GetAttr("rc").AsBigFloat().String() != "7" {
		t.Fatalf("a's failure = %#v", err)
	}
}

func TestGroupPutFetchTemplates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := group(locals(nil, "a", "b")...)
	defer g.Close()
	src := filepath.Join(dir, "src.txt")
	os.WriteFile(src, []byte("content\n"), 0o644)
	// Both hosts are this machine: put to a temp path, different on each.
	put := g.Put(ctx, src, "", nil)
	if err := put.Err(); err != nil {
		t.Fatal(err)
	}
	pa, _ := put.Get("a")
	pb, _ := put.Get("b")
	if pa.RemotePath == pb.RemotePath {
		t.Fatalf("both hosts put to %s", pa.RemotePath)
	}
	fetch := g.Fetch(ctx, src, filepath.Join(dir, "got-{host}.txt"))
	if err := fetch.Err(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a", "b"} {
		b, err := os.ReadFile(filepath.Join(dir, "got-"+h+".txt"))
		if err != nil || string(b) != "content\n" {
			t.Fatalf("host %s: %q, %v", h, b, err)
		}
	}
	if err := g.Fetch(ctx, src, filepath.Join(dir, "one-file")).Err(); err == nil || !strings.Contains(err.Error(), "{host}") {
		t.Fatalf("fetch without {host} from two hosts: %v", err)
	}
}

func TestGroupFilter(t *testing.T) {
	ctx := context.Background()
	g := group(locals(nil, "a", "b", "c")...)
	defer g.Close()
	byName := func(ctx context.Context, t *tunnel.Tunnel) (bool, error) { return t.Name() != "b", nil }
	kept, err := g.FilterFunc(ctx, byName, false)
	if err != nil || !reflect.DeepEqual(kept.Names(), []string{"a", "c"}) {
		t.Fatalf("FilterFunc = %v, %v", kept, err)
	}
	dropped, err := g.FilterFunc(ctx, byName, true)
	if err != nil || !reflect.DeepEqual(dropped.Names(), []string{"b"}) {
		t.Fatalf("FilterFunc exclude = %v, %v", dropped, err)
	}
	// A remote predicate: evaluated by the agent on each host.
	all, err := g.Filter(ctx, "tunneltest.echo", map[string]any{"value": true}, false)
	if err != nil || all.Len() != 3 {
		t.Fatalf("Filter(true) = %v, %v", all, err)
	}
	none, err := g.Filter(ctx, "tunneltest.echo", map[string]any{"value": true}, true)
	if err != nil || none.Len() != 0 {
		t.Fatalf("Filter(true, exclude) = %v, %v", none, err)
	}
	if _, err := g.Filter(ctx, "tunneltest.echo", map[string]any{"value": "yes"}, false); err == nil || !strings.Contains(err.Error(), "not a bool") {
		t.Fatalf("Filter with a non-bool predicate: %v", err)
	}
}
