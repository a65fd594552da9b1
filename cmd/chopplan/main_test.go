package main

import (
	"os"
	"testing"

	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// mainEnv makes the test binary run as the chopplan command itself, so
// tests can send a real process real signals.
const mainEnv = "CHOPPLAN_TEST_MAIN"

// TestMain lets the test binary serve as the agent the commands start,
// as the chopplan binary does, and as chopplan itself (mainEnv).
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" && len(os.Args) > 1 && os.Args[1] != "agent" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	tunneltest.Main(m.Run)
}
