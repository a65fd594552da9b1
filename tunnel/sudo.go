package tunnel

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// sudo starts the agent on this machine as another user, through
// `sudo -n`: it never prompts, so a rule that needs a password is an error
// that says so rather than a hang.
type sudo struct{ name, user string }

// Sudo returns the kind that runs the agent on this machine as user
// (root when empty) through `sudo -n -H -u USER`. It is named name, or
// "sudo:USER" when name is empty.
func Sudo(name, user string) Kind {
	if user == "" {
		user = "root"
	}
	if name == "" {
		name = "sudo:" + user
	}
	return &sudo{name: name, user: user}
}

func (s *sudo) Name() string { return s.name }

func (s *sudo) Describe() (string, cty.Value) {
	return "sudo", cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(s.name), "user": cty.StringVal(s.user)})
}

func (s *sudo) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sudo: finding own executable: %w", err)
	}
	if s.user != "root" {
		// The executable may sit in a directory only its owner can enter
		// (a build cache, a home directory): give the other user a copy.
		if exe, err = stageExecutable(exe); err != nil {
			return nil, fmt.Errorf("sudo: staging the agent for %s: %w", s.user, err)
		}
	}
	argv := append([]string{"sudo", "-n", "-H", "-u", s.user, "--"}, AgentArgv(exe)...)
	return startProcess(ctx, argv, env.Stderr, nil)
}

// ExplainStartFailure turns sudo's own complaint into what to do.
func (s *sudo) ExplainStartFailure(stderr string) error {
	if strings.Contains(stderr, "password is required") || strings.Contains(stderr, "a terminal is required") {
		return fmt.Errorf("sudo to %s needs a password, and chopplan runs sudo without prompting (sudo -n): add a NOPASSWD rule for the agent, e.g. `%s ALL=(%s) NOPASSWD: ALL` in /etc/sudoers.d/", s.user, currentUser(), s.user)
	}
	if strings.Contains(stderr, "unknown user") {
		return fmt.Errorf("sudo: no user %q on this machine", s.user)
	}
	return nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprint(os.Getuid())
}

// stageExecutable copies exe, once per build, to a directory every user
// can read but only this user can write, and returns the copy's path.
func stageExecutable(exe string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("chopplan-agents-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return "", err
	}
	// A directory someone else made or can write to could hold a planted binary.
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("%s is not a directory owned by uid %d and writable only by it", dir, os.Getuid())
	}
	dest := filepath.Join(dir, "agent-"+sanitizeBuild(agent.SelfBuild()))
	if fi, err := os.Stat(dest); err == nil && fi.Mode().Perm() == 0o755 {
		return dest, nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, ".agent-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(fs.FileMode(0o755)); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dest, os.Rename(tmp.Name(), dest)
}

func sanitizeBuild(b string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '.' {
			return '_'
		}
		return r
	}, b)
}
