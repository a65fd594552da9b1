package engine_test

import (
	"testing"

	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// TestMain lets the test binary serve as the agent its tests start.
func TestMain(m *testing.M) { tunneltest.Main(m.Run) }
