package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/plan"
)

func (c *cli) newInitCmd() *cobra.Command {
	var upgrade bool
	cmd := &cobra.Command{
		Use:   "init [PATH] [-upgrade]",
		Short: "Fetch a plan's git modules and pin them in the lock file",
		Long: `Fetch the git modules the plan at PATH calls (git::URL?ref=REF sources,
nested ones too) into .chopplan/modules/, and write chopplan.lock.hcl
pinning each source to a commit and a hash of its files. Check the lock file
in: validate, plan and apply refuse a module whose files do not match it.

A module already in the lock file is fetched at its locked commit; with
-upgrade, at what its ref points to now, and the lock moves.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			fmt.Fprintln(c.stdout, "Fetching modules...")
			lock, diags := plan.InstallModules(path, plan.InstallOptions{Upgrade: upgrade, Log: c.stdout})
			writeDiagnostics(c.stderr, nil, diags)
			if diags.HasErrors() {
				return exitCode(exitError)
			}
			fmt.Fprintf(c.stdout, "chopplan is initialized: %d module source(s) pinned in %s.\n", len(lock.Modules), plan.LockFileName)
			return nil
		},
	}
	cmd.Flags().BoolVar(&upgrade, "upgrade", false, "fetch each module's ref again and move the lock")
	return cmd
}
