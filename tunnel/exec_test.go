package tunnel_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestExecShContract(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.Exec("sh", []string{"env", "HOME=" + home, "sh"}), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: t.TempDir(),
	})
}

func TestExecNetnsContract(t *testing.T) {
	t.Parallel()
	ns := testenv.NewNetnsHost(t, "exec")
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.Exec(ns.Name(), []string{"ip", "netns", "exec", ns.Name(), "sh"}), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: t.TempDir(),
	})
}

// agentFiles lists the cached agents in home and their inode numbers.
func agentFiles(t *testing.T, home string) map[string]uint64 {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache", "chopplan", "agent-*"))
	out := map[string]uint64{}
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		out[m] = fi.Sys().(*syscall.Stat_t).Ino
	}
	return out
}

func TestBootstrapCachesAgent(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	kind := tunnel.Exec("cache", []string{"env", "HOME=" + home, "sh"})
	tun := tunnel.New(kind, tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	defer tun.Close()
	if err := tun.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := agentFiles(t, home)
	if len(first) != 1 {
		t.Fatalf("after the first connection the cache holds %v", first)
	}
	for path := range first {
		fi, _ := os.Stat(path)
		dir, _ := os.Stat(filepath.Dir(path))
		if fi.Mode().Perm() != 0o700 || dir.Mode().Perm() != 0o700 {
			t.Fatalf("agent %v, cache directory %v: want 0700 both", fi.Mode(), dir.Mode())
		}
	}
	tun.Close()
	// A new agent process, from the cached file: the same inode, as the
	// upload installs a new file by rename.
	if err := tun.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if second := agentFiles(t, home); len(second) != 1 || !mapsEqual(first, second) {
		t.Fatalf("the agent was installed again: %v then %v", first, second)
	}
	if temps, _ := filepath.Glob(filepath.Join(home, ".cache", "chopplan", ".agent-*")); len(temps) > 0 {
		t.Fatalf("temporary files left behind: %v", temps)
	}
}

// The agent travels in the best encoding the host can unpack: zstd, else
// gzip, else as it is. Each host here has only the tools its encoding
// needs, each codec wrapped to leave a mark when it runs, so the test sees
// which one unpacked the agent (and a wrong encoding fails to unpack).
func TestBootstrapEachEncoding(t *testing.T) {
	testenv.Codecs(t)
	for _, tc := range []struct {
		name, codec string // codec: the only decompressor on the host, "" for none
	}{
		{"zstd", "zstd"},
		{"gzip", "gzip"},
		{"raw", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin, marks := bootstrapTools(t, tc.codec, "")
			home := t.TempDir()
			out := &tunneltest.SyncBuffer{}
			tun := tunnel.New(tunnel.Exec(tc.name, hostArgv(bin, home)), tunnel.Options{Output: out})
			defer tun.Close()
			if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
				t.Fatalf("%v; output: %s", err, out)
			}
			if files := agentFiles(t, home); len(files) != 1 {
				t.Fatalf("cached agents after the upload: %v", files)
			}
			used, _ := os.ReadDir(marks)
			if tc.codec == "" && len(used) != 0 || tc.codec != "" && (len(used) != 1 || used[0].Name() != tc.codec) {
				t.Fatalf("decompressors run: %v, want %q", used, tc.codec)
			}
			if strings.Contains(out.String(), "warning") {
				t.Fatalf("unexpected warning: %s", out)
			}
		})
	}
}

// A decompressor that fails (a damaged upload) ends the bootstrap with an
// error that says so, and nothing is installed.
func TestBootstrapDamagedUpload(t *testing.T) {
	t.Parallel()
	testenv.Codecs(t)
	bin, _ := bootstrapTools(t, "zstd", "exit 1") // the upload, received in a file, does not unpack
	expectRefusedUpload(t, bin, "damaged or cut short")
}

// expectRefusedUpload connects to a host with the tools in bin and
// expects the bootstrap to refuse the agent's upload with an error that
// says want, installing nothing and leaving nothing behind.
func expectRefusedUpload(t *testing.T, bin, want string) {
	t.Helper()
	home := t.TempDir()
	tun := tunnel.New(tunnel.Exec("refused", hostArgv(bin, home)), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	defer tun.Close()
	if err := tun.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("connect: %v, want an error saying %q", err, want)
	}
	if left, _ := filepath.Glob(filepath.Join(home, ".cache", "chopplan", "*agent-*")); len(left) != 0 {
		t.Fatalf("installed or left behind: %v", left)
	}
}

// lookPath is exec.LookPath for a tool the test cannot do without.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostArgv runs a host's shell with only the tools in bin and home as HOME.
func hostArgv(bin, home string) []string {
	return []string{"env", "-i", "PATH=" + bin, "HOME=" + home, filepath.Join(bin, "sh")}
}

// The bootstrap installs and starts the agent under dash, bash and
// busybox's ash, with busybox's tools, for each way the agent travels
// (zstd, GNU gzip, busybox's gzip, raw), and leaves no temporary file.
func TestBootstrapAcrossShells(t *testing.T) {
	t.Parallel()
	testenv.Shells(t)
	testenv.Codecs(t)
	busybox := lookPath(t, "busybox")
	for _, shell := range []string{"busybox", "bash", "dash"} {
		for _, codec := range []string{"zstd", "gzip", "busybox-gzip", "raw"} {
			t.Run(shell+"/"+codec, func(t *testing.T) {
				t.Parallel()
				bin := t.TempDir()
				link := func(target, name string) {
					if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
						t.Fatal(err)
					}
				}
				for _, tool := range []string{"uname", "mkdir", "chmod", "head", "mv", "rm", "mktemp", "wc", "sha256sum"} {
					link(busybox, tool)
				}
				if shell == "busybox" {
					link(busybox, "sh")
				} else {
					link(lookPath(t, shell), "sh")
				}
				switch codec {
				case "zstd", "gzip":
					link(lookPath(t, codec), codec)
				case "busybox-gzip":
					link(busybox, "gzip")
				}
				home := t.TempDir()
				out := &tunneltest.SyncBuffer{}
				tun := tunnel.New(tunnel.Exec(codec, hostArgv(bin, home)), tunnel.Options{Output: out})
				defer tun.Close()
				if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
					t.Fatalf("%v; output: %s", err, out)
				}
				if files := agentFiles(t, home); len(files) != 1 {
					t.Fatalf("cached agents: %v", files)
				}
				if left, _ := filepath.Glob(filepath.Join(home, ".cache", "chopplan", ".agent-*")); len(left) != 0 {
					t.Fatalf("temporary files left: %v", left)
				}
			})
		}
	}
}

// An upload changed on the way (head, wrapped, alters bytes but not the
// length) fails the sha256 check of the upload, and nothing is installed.
func TestBootstrapUploadChangedOnTheWay(t *testing.T) {
	t.Parallel()
	bin, _ := bootstrapTools(t, "head", `"`+lookPath(t, "head")+`" "$@" | "`+lookPath(t, "tr")+`" A B`) // no codec: it travels raw
	expectRefusedUpload(t, bin, "sha256 is")
}

// bootstrapTools makes a directory holding the commands the bootstrap
// needs and, when codec is set, that decompressor wrapped to leave a file
// named after it in marks when it runs; body, when set, replaces the
// wrapper's call of the real one.
func bootstrapTools(t *testing.T, codec, body string) (bin, marks string) {
	t.Helper()
	bin, marks = t.TempDir(), t.TempDir()
	for _, tool := range []string{"sh", "uname", "mkdir", "chmod", "head", "mv", "rm", "mktemp", "wc", "sha256sum"} {
		if tool == codec {
			continue // wrapped below
		}
		if err := os.Symlink(lookPath(t, tool), filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if codec != "" {
		real := lookPath(t, codec)
		if body == "" {
			body = `exec "` + real + `" "$@"`
		}
		script := "#!" + filepath.Join(bin, "sh") + "\n: >\"" + filepath.Join(marks, codec) + "\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, codec), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, marks
}

// A cached agent starts from the cache whether or not the kernel names its
// architecture in /proc/sys/kernel/arch: with the file, the shell reads it
// and runs no uname (wrapped here to leave a mark); with it hidden in a
// mount namespace, as an older kernel would have it, uname is asked.
func TestBootstrapCachedAgentWithoutProcArch(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	bin, marks := bootstrapTools(t, "uname", "")
	home := t.TempDir()
	ran := filepath.Join(marks, "uname")
	for i, hide := range []bool{false, false, true} { // the first run fills the cache
		os.Remove(ran)
		argv := hostArgv(bin, home)
		if hide {
			argv = append([]string{"unshare", "-m", "sh", "-c", `mount -t tmpfs none /proc/sys/kernel && exec "$@"`, "sh"}, argv...)
		}
		tun := tunnel.New(tunnel.Exec("arch", argv), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
		v, err := tun.Call(context.Background(), "tunneltest.exe", nil)
		tun.Close()
		if err != nil {
			t.Fatalf("hidden %v: %v", hide, err)
		}
		files := agentFiles(t, home)
		if _, ok := files[v.AsString()]; !ok || len(files) != 1 {
			t.Fatalf("hidden %v: agent runs from %s; the cache holds %v", hide, v.AsString(), files)
		}
		if _, err := os.Stat(ran); i > 0 && (err == nil) != hide {
			t.Fatalf("hidden %v: uname ran: %v", hide, err == nil)
		}
	}
}

// A cache directory that exists already is made private (0700) too.
func TestBootstrapMakesExistingCacheDirPrivate(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := filepath.Join(home, ".cache", "chopplan")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	tun := tunnel.New(tunnel.Exec("existing", []string{"env", "HOME=" + home, "sh"}), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	defer tun.Close()
	if err := tun.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory %v, %v: want 0700", fi.Mode(), err)
	}
	if len(agentFiles(t, home)) != 1 {
		t.Fatal("no agent cached")
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBootstrapHomeNotWritable(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// /proc/self cannot hold a directory, even for root.
	kind := tunnel.Exec("nohome", []string{"env", "HOME=/proc/self", "TMPDIR=" + tmp, "sh"})
	out := &tunneltest.SyncBuffer{}
	tun := tunnel.New(kind, tunnel.Options{Output: out})
	v, err := tun.Call(context.Background(), "tunneltest.exe", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.AsString(), tmp+"/chopplan.") {
		t.Fatalf("agent runs from %s, want a private directory in %s", v.AsString(), tmp)
	}
	if !strings.Contains(out.String(), "not writable") {
		t.Fatalf("no note about the fallback: %q", out.String())
	}
	tun.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("the private directory outlived the agent: %v", left)
	}
}

// A cached compressed agent damaged in place, its size and modification
// time kept, is trusted by its record and sent; the target refuses it (by
// its sha256, or by the codec's check on a host with no sha256 tool), and
// the controller then drops the copy, so the next connect makes it again.
func TestBootstrapDamagedCachedUploadIsMadeAgain(t *testing.T) {
	testenv.Codecs(t)
	for _, tc := range []struct {
		name    string
		sumTool bool
		want    string
	}{
		{"sha256", true, "sha256 is"},
		{"no-sha256-tool", false, "no sha256 tool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", cache)
			bin, _ := bootstrapTools(t, "zstd", "")
			if !tc.sumTool {
				os.Remove(filepath.Join(bin, "sha256sum"))
			}
			connect := func() (string, error) {
				out := &tunneltest.SyncBuffer{}
				kind := tunnel.Exec("damaged-cache", hostArgv(bin, t.TempDir()))
				tun := tunnel.New(kind, tunnel.Options{Agents: &tunnel.AgentBinaries{}, Output: out}) // a new process, as it were
				err := tun.Connect(context.Background())
				tun.Close() // waits for the host's stderr to be copied
				return out.String(), err
			}
			out, err := connect()
			if err != nil {
				t.Fatal(err)
			}
			if warned := strings.Contains(out, "warning: no sha256 tool"); warned == tc.sumTool {
				t.Fatalf("warning about no sha256 tool: %v, want %v; output: %s", warned, !tc.sumTool, out)
			}
			copies, _ := filepath.Glob(filepath.Join(cache, "chopplan", "agent-*.zst"))
			if len(copies) != 1 {
				t.Fatalf("cached compressed agents: %v", copies)
			}
			fi, err := os.Stat(copies[0])
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(copies[0], os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt([]byte("damage"), fi.Size()/2)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(copies[0], fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if _, err := connect(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("connect with the damaged copy: %v, want the target to refuse it saying %q", err, tc.want)
			}
			if _, err := os.Stat(copies[0]); !os.IsNotExist(err) {
				t.Fatalf("the damaged copy is still cached (%v)", err)
			}
			if _, err := connect(); err != nil {
				t.Fatalf("connect after the damaged copy was dropped: %v", err)
			}
		})
	}
}

// A relaying command that leaves a child holding its stdout and stderr
// does not hold up a cancelled connect, nor its close: the command's
// whole process group is killed.
func TestExecCancelledConnectKillsWhatTheCommandStarted(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The child never ends by itself, and no bootstrap is ever answered.
	kind := tunnel.Exec("stuck", []string{"sh", "-c", "sleep infinity & echo $! >" + pidFile + "; wait"})
	tun := tunnel.New(kind, tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	defer tun.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var pid int
	go func() {
		defer cancel()
		for {
			if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := tun.Connect(ctx); err == nil {
		t.Fatal("a connect to a command that never answers succeeded")
	}
	if pid == 0 {
		t.Fatal("the command's child never started")
	}
	if !testenv.Gone(pid) {
		t.Fatalf("the command's child (pid %d) outlived the cancelled connect", pid)
	}
}
