package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/builtins"
	"github.com/chopplan/chopplan/tunnel"
)

// A Tunnel connects on first use and runs builtins on its host.
func ExampleTunnel_Call() {
	ctx := context.Background()
	tun := tunnel.New(tunnel.Local("web1"), tunnel.Options{})
	defer tun.Close()
	v, err := tun.Call(ctx, "exec", map[string]any{"command": []string{"echo", "hi"}, "live": false})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("rc=%s stdout=%q\n", v.GetAttr("rc").AsBigFloat().String(), v.GetAttr("stdout").AsString())
	// Output: rc=0 stdout="hi\n"
}

// StartWith sends a call without waiting for it; a call queued After it
// starts on the agent the moment it succeeds, and never when it fails, so
// a sequence of calls pays no round trip between them.
func ExampleTunnel_StartWith() {
	ctx := context.Background()
	tun := tunnel.New(tunnel.Local("web1"), tunnel.Options{})
	defer tun.Close()
	run := func(after *tunnel.Pending, command ...string) *tunnel.Pending {
		opts := &agent.CallOptions{}
		if after != nil {
			opts.After = after.Pending
		}
		p, err := tun.StartWith(ctx, "exec", map[string]any{"command": command, "live": false}, opts)
		if err != nil {
			panic(err)
		}
		return p
	}
	first := run(nil, "false")
	second := run(first, "echo", "never printed")
	_, err1 := first.Wait()
	_, err2 := second.Wait()
	fmt.Println("first failed:", err1 != nil)
	if re := (*agent.RemoteError)(nil); errors.As(err2, &re) {
		fmt.Println("second:", re.Kind)
	}
	// Output:
	// first failed: true
	// second: not_run
}

// Put sends a file (not again when the target already has it); Fetch
// brings one back. Both are streamed and verified by sha256.
func ExampleTunnel_Put() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "app.conf")
	os.WriteFile(src, []byte("port = 8080\n"), 0o644)

	tun := tunnel.New(tunnel.Local("web1"), tunnel.Options{})
	defer tun.Close()
	first, _ := tun.Put(ctx, src, filepath.Join(dir, "installed.conf"), &tunnel.PutOptions{Mode: 0o600})
	again, _ := tun.Put(ctx, src, filepath.Join(dir, "installed.conf"), &tunnel.PutOptions{Mode: 0o600})
	fmt.Println("changed:", first.Changed, again.Changed)
	// Output: changed: true false
}

// shout is a function of this program's own: registered here, it runs on
// every target, because this program's binary is the agent it ships.
func init() {
	builtins.MustRegister(builtins.Spec{
		Name:   "example.shout",
		Doc:    "Upper-cases its text argument.",
		Args:   []builtins.Arg{{Name: "text", Type: cty.String, Required: true}},
		Result: cty.String,
		Run: func(_ agent.CallContext, args cty.Value) (cty.Value, error) {
			return cty.StringVal(strings.ToUpper(args.GetAttr("text").AsString())), nil
		},
	})
}

// A program registers its own functions with builtins.Register (here, in
// an init function) and calls tunnel.ServeAgentIfInvoked first thing in
// main; its targets then run them like any builtin.
func Example_customFunction() {
	ctx := context.Background()
	tun := tunnel.New(tunnel.Local("web1"), tunnel.Options{})
	defer tun.Close()
	v, err := tun.Call(ctx, "example.shout", map[string]any{"text": "hello"})
	fmt.Println(v.AsString(), err)
	// Output: HELLO <nil>
}
