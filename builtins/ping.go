package builtins

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

func init() {
	MustRegister(Spec{
		Name:       "ping",
		Doc:        "Answers \"pong\": proves the agent is up and measures a round trip.",
		Result:     cty.String,
		CheckMode:  true,
		Idempotent: true,
		Run: func(agent.CallContext, cty.Value) (cty.Value, error) {
			return cty.StringVal("pong"), nil
		},
	})
}
