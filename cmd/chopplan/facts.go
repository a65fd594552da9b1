package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/internal/termsafe"
	"github.com/chopplan/chopplan/tunnel"
)

func (c *cli) newFactsCmd() *cobra.Command {
	var (
		targets targetFlags
		pf      planFlags
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "facts [PATH] | facts --on TARGET [--on TARGET...]",
		Short: "Print what chopplan knows of each host of a plan, or of targets: OS, distribution, kernel, CPUs, memory, user",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var g *engine.Group
			if len(targets.on) > 0 {
				if len(args) > 0 {
					return fmt.Errorf("give a plan or --on targets, not both")
				}
				var err error
				if g, err = targets.group(c.stderr); err != nil {
					return err
				}
			} else {
				cfg, err := c.loadValid(pathArg(args), &pf)
				if err != nil {
					return err
				}
				redactor := engine.NewRedactor()
				for _, v := range cfg.Variables {
					redactor.Add(v.Value)
				}
				for _, t := range cfg.Tunnels {
					redactor.Add(t.Args)
				}
				c = &cli{stdin: c.stdin, stdout: redacting{c.stdout, redactor}, stderr: redacting{c.stderr, redactor}}
				tuns, err := engine.Tunnels(cfg, tunnel.Options{Output: c.stderr})
				if err != nil {
					return err
				}
				var members []engine.Target
				for _, t := range tuns {
					members = append(members, t)
				}
				g = engine.NewGroup(members...)
			}
			defer g.Close()
			ctx, cancel := cancelOnInterrupt(cmd.Context())
			defer cancel()
			res := g.Call(ctx, "facts", nil)
			if ctx.Err() != nil {
				c.printFailures(res)
				return exitCode(exitInterrupted)
			}
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
					fmt.Fprintf(c.stdout, "%s | %s = %s\n", h, termsafe.String(k), termsafe.String(fmt.Sprint(m[k])))
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
	pf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per host")
	return cmd
}

// redacting masks a plan's secrets in what is written through it (a line
// at a time, as every writer here writes).
type redacting struct {
	w io.Writer
	r *engine.Redactor
}

func (r redacting) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
