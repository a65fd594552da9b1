package tunnel

import (
	"context"
	"fmt"
	"os"

	"github.com/zclconf/go-cty/cty"
)

// local starts the agent as a child process of the controller.
type local struct{ name string }

// Local returns the kind that runs the agent as a child process on this
// machine, named name ("local" when empty).
func Local(name string) Kind {
	if name == "" {
		name = "local"
	}
	return &local{name: name}
}

func (l *local) Name() string { return l.name }

func (l *local) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("local: finding own executable: %w", err)
	}
	return startProcess(ctx, AgentArgv(exe), env.Stderr, nil)
}

// Describe lets a via tunnel start this kind on a far agent.
func (l *local) Describe() (string, cty.Value) {
	return "local", cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(l.name)})
}
