package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func (c *cli) newFactsCmd() *cobra.Command {
	var (
		targets targetFlags
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "facts --on TARGET [--on TARGET...]",
		Short: "Print what chopplan knows of each target: OS, distribution, kernel, CPUs, memory, user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := targets.group(c.stderr)
			if err != nil {
				return err
			}
			defer g.Close()
			ctx, cancel := cancelOnInterrupt(cmd.Context())
			defer cancel()
			res := g.Call(ctx, "facts", nil)
			for h, v := range res.Successful() {
				b, err := ctyjson.Marshal(v, v.Type())
				if err != nil {
					return err
				}
				if asJSON {
					fmt.Fprintf(c.stdout, "{\"host\":%q,\"facts\":%s}\n", h, b)
					continue
				}
				var m map[string]any
				json.Unmarshal(b, &m)
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(c.stdout, "%s | %s = %v\n", h, k, m[k])
				}
			}
			c.printFailures(res)
			if code := failureStatus(res); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	targets.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per host")
	return cmd
}
