package tunnel_test

import (
	"errors"
	"os"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// TestMain lets the test binary serve as the agent its tests start, and as
// the probe some tests run as another user.
func TestMain(m *testing.M) {
	if os.Getenv(sudoProbeEnv) != "" {
		os.Exit(sudoProbe())
	}
	if os.Getenv(echoEnv) != "" {
		echo()
		os.Exit(0)
	}
	tunneltest.Main(m.Run)
}

func asUnreachable(err error, target **tunnel.UnreachableError) bool { return errors.As(err, target) }
