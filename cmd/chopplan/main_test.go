package main

import (
	"testing"

	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// TestMain lets the test binary serve as the agent the commands start,
// as the chopplan binary does.
func TestMain(m *testing.M) { tunneltest.Main(m.Run) }
