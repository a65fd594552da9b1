package main

import (
	"github.com/spf13/cobra"
)

func (c *cli) newGraphCmd() *cobra.Command {
	var (
		pf    planFlags
		hosts bool
	)
	cmd := &cobra.Command{
		Use:   "graph [PATH] [-hosts]",
		Short: "Print a plan's task-list graph in DOT",
		Long: `Print the DAG of the plan's task lists in Graphviz DOT: each list with
its tasks in order, and an edge wherever a list waits for another (depends_on,
solid; reading its results, dashed). With -hosts, print each host's queue
instead, with the barriers hosts wait at. Hosts are known without connecting;
a group's where is decided at run time, so its candidates are shown.

  chopplan graph | dot -Tsvg > graph.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			cfg, diags := pf.load(path)
			writeDiagnostics(c.stderr, cfg.Files, diags)
			if diags.HasErrors() {
				return exitCode(exitError)
			}
			g := cfg.Graph()
			if hosts {
				return g.WriteHostsDOT(c.stdout, cfg.Tunnels)
			}
			return g.WriteDOT(c.stdout)
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&hosts, "hosts", false, "expand the graph into per-host queues")
	return cmd
}
