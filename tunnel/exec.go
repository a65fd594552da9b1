package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// execKind reaches its host through a local command that relays its
// stdin and stdout to a POSIX sh somewhere else.
type execKind struct {
	name  string
	argv  []string
	build atomic.Pointer[string]
}

// Exec returns the kind that runs argv on this machine and bootstraps the
// agent through it, as SSH does: argv must end up in a POSIX sh reading
// commands from its stdin, e.g.
//
//	ip netns exec NS sh
//	docker exec -i CONTAINER sh
//	kubectl exec -i POD -- sh
//	podman exec -i NAME sh
//
// The agent is cached in ~/.cache/chopplan on the far side, as over SSH.
// Closing the stream closes the command's stdin; the agent sees end of
// input and exits, and the command with it.
func Exec(name string, argv []string) Kind {
	if name == "" && len(argv) > 0 {
		name = "exec:" + argv[0]
	}
	return &execKind{name: name, argv: append([]string(nil), argv...)}
}

func (e *execKind) Name() string { return e.name }

func (e *execKind) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	if len(e.argv) == 0 {
		return nil, fmt.Errorf("exec %s: no command to run", e.name)
	}
	p, err := startProcess(ctx, e.argv, env.Stderr, nil)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", e.name, err)
	}
	// Cancelled, the command and what it started are killed, and its
	// stdin and stdout closed under the bootstrap: a child that escaped
	// the kill may hold their other ends, reading nothing, writing nothing.
	stop := context.AfterFunc(ctx, func() { p.kill(); p.stdin.Close(); p.stdout.Close() })
	r := bufio.NewReaderSize(p.stdout, 64<<10)
	res, err := bootstrap(ctx, e.name, p.stdin, r, env)
	stop()
	if err != nil {
		p.kill()
		p.Close()
		if exit := p.Exited(); exit != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w (%s %v)", err, e.argv[0], exit)
		}
		return nil, err
	}
	b := buildOf(res.Binary)
	e.build.Store(&b)
	return &bootstrapStream{r: r, w: p, close: p.Close}, nil
}

// ExpectedBuild is the build of the agent the last Start ran, which may
// be another platform's binary.
func (e *execKind) ExpectedBuild() string {
	if b := e.build.Load(); b != nil {
		return *b
	}
	return buildOf(nil)
}

// Describe lets a via tunnel run the command on a far agent's machine.
func (e *execKind) Describe() (string, cty.Value) {
	argv := cty.ListValEmpty(cty.String)
	if len(e.argv) > 0 {
		argv, _ = gocty.ToCtyValue(e.argv, cty.List(cty.String))
	}
	return "exec", cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(e.name), "argv": argv})
}

func init() {
	RegisterKind("exec", func(args cty.Value) (Kind, error) {
		var argv []string
		if args.Type().IsObjectType() && args.Type().HasAttribute("argv") {
			if err := gocty.FromCtyValue(args.GetAttr("argv"), &argv); err != nil {
				return nil, fmt.Errorf("exec: argv: %w", err)
			}
		}
		return Exec(stringArg(args, "name"), argv), nil
	})
}
