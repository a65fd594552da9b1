// Command chopplan validates, plans and applies chopplan plans, and runs
// ad hoc commands on many machines at once. Started as `chopplan agent`, it
// is the agent that runs on each target.
package main

import (
	"os"

	"github.com/chopplan/chopplan/tunnel"
)

func main() {
	// Before anything else: an agent must start fast and touch nothing else.
	tunnel.ServeAgentIfInvoked()
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
