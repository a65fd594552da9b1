package tunnel_test

import (
	"os"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
)

// TestMain lets the test binary serve as the agent its tests start.
func TestMain(m *testing.M) {
	tunnel.ServeAgentIfInvoked()
	os.Exit(m.Run())
}
