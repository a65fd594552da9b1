package tunnel

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// sudo's complaints become what to do (docs/ssh.md, "sudo"); requiretty
// has no terminal to ask on, and says so rather than that the shell ended.
func TestExplainSudo(t *testing.T) {
	k := &sshKind{cfg: SSHConfig{Name: "web1", Sudo: true}}
	for stderr, want := range map[string]string{
		"sudo: sorry, you must have a tty to run sudo\n":          "requires a terminal",
		"sudo: a password is required\n":                          "needs a password and none was given",
		"Sorry, try again.\nsudo: 1 incorrect password attempt\n": "refused the password",
		"sudo: unknown user deploy\n":                             `no user "root"`,
	} {
		tail := &tailBuffer{}
		tail.Write([]byte(stderr))
		err := k.explainSudo(context.Background(), tail, errors.New("the shell ended"))
		var se *AgentStartError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Errorf("sudo said %q: %v, want %q", stderr, err, want)
		}
	}
}
