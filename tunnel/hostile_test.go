package tunnel_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// What a target says during the bootstrap is data: these targets' "sh"
// is a script that answers the bootstrap with lines of its own.

// hostileTarget connects through a "shell" that runs script (sh) with the
// bootstrap script on its stdin, and returns the connect's error and what
// the tunnel printed.
func hostileTarget(t *testing.T, script string) (error, string) {
	t.Helper()
	out := &tunneltest.SyncBuffer{}
	tun := tunnel.New(tunnel.Exec("hostile", []string{"sh", "-c", script}), tunnel.Options{Output: out})
	err := tun.Connect(context.Background())
	tun.Close()
	return err, out.String()
}

// skipScript reads the bootstrap script to its end: the line that runs
// the agent, then the block's closing brace.
const skipScript = `while IFS= read -r l; do [ "$l" = 'exec "$a" agent' ] && break; done; read -r l; `

// The encoding a target asks for names a cached file on the controller,
// which a refused upload deletes: a target that names another file
// instead is refused before anything is sent.
func TestBootstrapRefusesAnEncodingThatIsAPath(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	victim := filepath.Join(cache, "victim.txt")
	if err := os.WriteFile(victim, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err, _ := hostileTarget(t, skipScript+`
echo "chopplan-bootstrap probe $(uname -s) $(uname -m) - /../../../victim.txt"
read -r cmd sha
echo "chopplan-bootstrap missing"
read -r put sha size usha
head -c "$size" >/dev/null
echo "chopplan-bootstrap error the agent upload's sha256 is 00, expected $usha"`)
	if err == nil || !strings.Contains(err.Error(), "malformed reply") || !strings.Contains(err.Error(), "victim.txt") {
		t.Fatalf("connect: %v, want the probe refused as malformed", err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the controller's file named by the target: %v", err)
	}
}

// A marker line with no words is not a line of the script's: it is
// ignored, not taken for one (it stopped the controller).
func TestBootstrapIgnoresAnEmptyMarkerLine(t *testing.T) {
	t.Parallel()
	err, out := hostileTarget(t, skipScript+`printf 'chopplan-bootstrap \t\n'`)
	if err == nil || !strings.Contains(err.Error(), "shell ended") {
		t.Fatalf("connect: %v, want the shell's end reported", err)
	}
	if !strings.Contains(out, "ignoring output on stdout") {
		t.Fatalf("the empty marker line was not reported as ignored: %q", out)
	}
}

// Output with no newline of its own before the script's first line (a
// login's banner printed with printf) is reported, and the bootstrap
// goes on.
func TestBootstrapAfterOutputWithNoNewline(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	err, out := hostileTarget(t, `printf 'Welcome, no newline'; exec env HOME=`+home+` sh`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "ignoring output on stdout before the agent started: Welcome, no newline\n") {
		t.Fatalf("the banner was not reported: %q", out)
	}
}

// A target that writes on and on with no newline is given up on after
// 64 KiB, not buffered until the connect times out.
func TestBootstrapBoundsOutputWithNoNewline(t *testing.T) {
	t.Parallel()
	err, _ := hostileTarget(t, skipScript+`yes x | tr -d '\n' | head -c 1000000; sleep 600`)
	if err == nil || !strings.Contains(err.Error(), "more than 64 KiB") {
		t.Fatalf("connect: %v, want it ended after 64 KiB", err)
	}
}
