package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/tunnel"
)

// A Group runs one operation on every host at once.
func ExampleGroup_Call() {
	ctx := context.Background()
	web := engine.NewGroup(
		tunnel.New(tunnel.Local("web1"), tunnel.Options{}),
		tunnel.New(tunnel.Local("web2"), tunnel.Options{}),
	)
	defer web.Close()
	res := web.Call(ctx, "exec", map[string]any{"command": []string{"echo", "hello"}, "live": false})
	for host, v := range res.Successful() {
		fmt.Printf("%s said %q\n", host, v.GetAttr("stdout").AsString())
	}
	fmt.Println("failures:", res.Err())
	// Output:
	// web1 said "hello\n"
	// web2 said "hello\n"
	// failures: <nil>
}

// Fetch names each host's local file from a template.
func ExampleGroup_Fetch() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "motd"), []byte("hi\n"), 0o644)
	g := engine.NewGroup(tunnel.New(tunnel.Local("a"), tunnel.Options{}), tunnel.New(tunnel.Local("b"), tunnel.Options{}))
	defer g.Close()
	res := g.Fetch(ctx, filepath.Join(dir, "motd"), filepath.Join(dir, "motd-{host}"))
	for host, r := range res.Successful() {
		fmt.Println(host, filepath.Base(r.LocalPath), r.Size)
	}
	// Output:
	// a motd-a 3
	// b motd-b 3
}

// A Queue keeps every host busy with its own FIFO; callbacks see each
// result as soon as it is in.
func ExampleQueue() {
	ctx := context.Background()
	g := engine.NewGroup(tunnel.New(tunnel.Local("a"), tunnel.Options{}), tunnel.New(tunnel.Local("b"), tunnel.Options{}))
	defer g.Close()
	q := engine.NewQueue()
	q.Call(g, "ping", nil)
	uname := q.Call(g, "exec", map[string]any{"command": []string{"uname", "-s"}, "live": false})
	uname.WithCallback(func(r *engine.GroupResult[cty.Value]) {
		fmt.Println("uname ran on", r.Len(), "hosts")
	})
	if err := q.Run(ctx); err != nil {
		fmt.Println(err)
	}
	res, _ := uname.Value()
	v, _ := res.Get("a")
	fmt.Print(v.GetAttr("stdout").AsString())
	// Output:
	// uname ran on 2 hosts
	// Linux
}
