package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
)

func (c *cli) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, protocol and build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(c.stdout, "chopplan %s\nprotocol %d\nbuild %s\n%s %s/%s\nagents for: %v\n",
				agent.Version, agent.ProtocolVersion, agent.SelfBuild(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
				tunnel.DefaultAgentBinaries().Platforms())
			return nil
		},
	}
}

// newAgentCmd is the hidden agent entry. main serves agents before cobra
// starts; the command exists so `chopplan agent` is a known command.
func newAgentCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "agent",
		Short:  "Serve as an agent on stdin and stdout (started by chopplan itself)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			if code := tunnel.ServeAgent(); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}
