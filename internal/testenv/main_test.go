package testenv

import (
	"fmt"
	"os"
	"testing"
)

// helperEnv makes the test binary act as a tiny program instead of running
// tests, so that ExecutableFor can be tested by running it as another user.
const helperEnv = "CHOPPLAN_TESTENV_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "uid" {
		fmt.Println(os.Getuid())
		os.Exit(0)
	}
	os.Exit(m.Run())
}
