package testenv

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSudoRuleWithoutPassword(t *testing.T) {
	t.Parallel()
	u := TestUser(t)
	SudoRule(t, u, true)
	out, err := RunAs(t, u, "sudo", "-n", "-u", "root", "id", "-un").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "root" {
		t.Fatalf("sudo -n as %s: %v: %s", u, err, out)
	}
}

func TestSudoRuleNeedsPassword(t *testing.T) {
	t.Parallel()
	u, password := PasswordUser(t)
	SudoRule(t, u, false)
	sudoN := func() {
		t.Helper()
		out, err := RunAs(t, u, "sudo", "-n", "id", "-un").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(string(out), "a password is required") {
			t.Errorf("sudo -n as %s: %v: %q, want sudo's \"a password is required\"", u, err, out)
		}
	}
	sudoN()

	cmd := RunAs(t, u, "sudo", "-S", "-p", "", "-u", "root", "id", "-un")
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "root" {
		t.Fatalf("sudo -S with the password: %v: %q", err, out)
	}
	sudoN() // the accepted password must not be cached for the next call
}

func TestSudoUserFromRoot(t *testing.T) {
	t.Parallel()
	u := SudoUser(t)
	out, err := exec.Command("sudo", "-n", "-u", u, "id", "-un").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != u {
		t.Fatalf("sudo -n -u %s: %v: %s", u, err, out)
	}
}

func TestExecutableForRunsAsUser(t *testing.T) {
	t.Parallel()
	u := TestUser(t)
	self, _ := os.Executable()
	exe := ExecutableFor(t, u)
	if exe == self {
		t.Log("test binary already executable by", u)
	}
	var out []byte
	var err error
	// A copy just written can be busy for a moment: a fork in a parallel
	// test may hold its descriptor until that child execs (ETXTBSY).
	for range 5 {
		cmd := RunAs(t, u, exe)
		cmd.Env = append(cmd.Env, helperEnv+"=uid")
		if out, err = cmd.CombinedOutput(); !errors.Is(err, syscall.ETXTBSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s as %s: %v: %s", exe, u, err, out)
	}
	want, err := user.Lookup(u)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != want.Uid {
		t.Errorf("ran with uid %s, want %s's %s", got, u, want.Uid)
	}
}
