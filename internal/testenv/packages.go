package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// A requirement names the commands a component needs and the Debian
// packages that provide them.
type requirement struct {
	component string
	commands  []string // absolute paths or names looked up in PATH
	packages  []string
}

var (
	sshdRequirement = requirement{
		component: "OpenSSH sshd",
		commands:  []string{sshdPath, "ssh"},
		packages:  []string{"openssh-server", "openssh-client"},
	}
	sudoRequirement = requirement{
		component: "sudo",
		commands:  []string{"sudo", "visudo"},
		packages:  []string{"sudo"},
	}
	accountsRequirement = requirement{
		component: "user accounts (useradd, chpasswd)",
		commands:  []string{"useradd", "chpasswd"},
		packages:  []string{"passwd"},
	}
	codecsRequirement = requirement{
		component: "zstd and gzip",
		commands:  []string{"zstd", "gzip"},
		packages:  []string{"zstd", "gzip"},
	}
	shellsRequirement = requirement{
		component: "dash, bash and busybox",
		commands:  []string{"dash", "bash", "busybox"},
		packages:  []string{"dash", "bash", "busybox-static"},
	}
	netnsRequirement = requirement{
		component: "network namespaces (iproute2)",
		commands:  []string{"ip"},
		packages:  []string{"iproute2"},
	}
)

// Shells ends the test through Unavailable unless dash, bash and busybox
// exist, installing them when it can: the bootstrap script must run in
// each (busybox's ash stands for the small shells of embedded hosts).
func Shells(t testing.TB) {
	t.Helper()
	ensure(t, shellsRequirement)
}

// Codecs ends the test through Unavailable unless zstd and gzip exist,
// installing them when it can: the agent travels compressed by either.
func Codecs(t testing.TB) {
	t.Helper()
	ensure(t, codecsRequirement)
}

// installed caches, per component, the outcome of ensure: a failed apt-get
// is not retried by every test of the package.
var installed sync.Map // component -> error (nil when present)

// ensure makes sure r's commands exist, installing r's packages with apt
// when they are missing and the test runs as root, and otherwise ends the
// test through Unavailable. scripts/install-test-deps.sh does the same
// ahead of time; this covers a plain `go test` on a fresh machine.
func ensure(t testing.TB, r requirement) {
	t.Helper()
	if v, ok := installed.Load(r.component); ok {
		if v != nil {
			Unavailable(t, r.component, v.(error))
		}
		return
	}
	err := r.missing()
	if err != nil {
		if os.Geteuid() != 0 {
			err = fmt.Errorf("%w, and installing it needs root", err)
		} else {
			err = withMachineLock("apt", func() error {
				if r.missing() == nil { // another test package installed it meanwhile
					return nil
				}
				return aptInstall(r.packages)
			})
			if err == nil {
				err = r.missing()
			}
		}
	}
	if err != nil {
		installed.Store(r.component, err)
		Unavailable(t, r.component, err)
		return
	}
	installed.Store(r.component, nil)
}

func (r requirement) missing() error {
	var missing []string
	for _, c := range r.commands {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found (Debian packages: %s)", strings.Join(missing, ", "), strings.Join(r.packages, " "))
	}
	return nil
}

// aptInstall installs pkgs, refreshing the package lists once if the
// first attempt fails (a fresh image often has none).
func aptInstall(pkgs []string) error {
	install := append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)
	out, err := apt(install...)
	if err == nil {
		return nil
	}
	if uout, uerr := apt("update", "-q"); uerr != nil {
		return fmt.Errorf("apt-get update: %v: %s", uerr, tail(uout, 400))
	}
	if out, err = apt(install...); err != nil {
		return fmt.Errorf("apt-get install %s: %v: %s", strings.Join(pkgs, " "), err, tail(out, 400))
	}
	return nil
}

func apt(args ...string) ([]byte, error) {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// tail returns the last n bytes of out, trimmed, for error messages that
// quote a command's output.
func tail(out []byte, n int) string {
	out = bytes.TrimSpace(out)
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}
