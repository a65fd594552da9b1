package tunnel_test

import (
	"context"
	"fmt"
	"log"

	"github.com/chopplan/chopplan/tunnel"
)

// Running a command in an existing container: the agent is copied in on
// the first connection and reused by later ones.
func ExampleDockerContainer() {
	web := tunnel.New(tunnel.DockerContainer("web", "web-1", nil), tunnel.Options{})
	defer web.Close()
	res, err := web.Call(context.Background(), "exec", map[string]any{"command": []string{"nginx", "-t"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.GetAttr("stdout").AsString())
}

// A throwaway container from an image with no shell: facts come from the
// agent itself. The container is removed on Close.
func ExampleDockerImage() {
	scratch := tunnel.New(tunnel.DockerImage("", "registry.example.com/app:1.2", &tunnel.DockerOptions{Network: "none"}), tunnel.Options{})
	defer scratch.Close()
	facts, err := scratch.Call(context.Background(), "facts", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(facts.GetAttr("arch").AsString())
}
