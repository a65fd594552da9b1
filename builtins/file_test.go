package builtins_test

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestFile(t *testing.T) {
	tun := local(t)
	cases := []struct {
		name       string
		setup      func(t *testing.T, dir string)
		args       func(dir string) map[string]any
		wantChange bool
		// wantBefore and wantAfter are the expected attribute diff.
		wantBefore, wantAfter map[string]string
		// wantContent are lines the content diff must have.
		wantContent []string
		verify      func(t *testing.T, dir string)
	}{
		{
			name: "new file with content and mode",
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/motd", "content": "hello\n", "mode": "0600"}
			},
			wantChange:  true,
			wantBefore:  map[string]string{"state": "absent"},
			wantAfter:   map[string]string{"state": "file", "mode": "0600"},
			wantContent: []string{"--- /dev/null", "/motd\n", "+hello"},
			verify: func(t *testing.T, dir string) {
				if got := readFile(t, dir+"/motd"); got != "hello\n" {
					t.Errorf("content %q", got)
				}
				if m := modeOf(t, dir+"/motd"); m != 0o600 {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:  "new content for an existing file keeps its mode",
			setup: func(t *testing.T, dir string) { writeFile(t, dir+"/f", "one\ntwo\nthree\n", 0o640) },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/f", "content": "one\nTWO\nthree\n"}
			},
			wantChange: true,
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
			wantContent: []string{"@@ -1,3 +1,3 @@", " one", "-two", "+TWO", " three"},
			verify: func(t *testing.T, dir string) {
				if m := modeOf(t, dir+"/f"); m != 0o640 {
					t.Errorf("mode %v, want the old 0640", m)
				}
			},
		},
		{
			name:       "mode as a number, content not managed",
			setup:      func(t *testing.T, dir string) { writeFile(t, dir+"/f", "x", 0o600) },
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/f", "mode": 420} },
			wantChange: true,
			wantBefore: map[string]string{"mode": "0600"}, wantAfter: map[string]string{"mode": "0644"},
			verify: func(t *testing.T, dir string) {
				if got := readFile(t, dir+"/f"); got != "x" {
					t.Errorf("content %q changed", got)
				}
			},
		},
		{
			name:       "setuid bit in a string mode",
			setup:      func(t *testing.T, dir string) { writeFile(t, dir+"/bin", "#!/bin/sh\n", 0o755) },
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/bin", "mode": "4755"} },
			wantChange: true,
			wantBefore: map[string]string{"mode": "0755"}, wantAfter: map[string]string{"mode": "4755"},
			verify: func(t *testing.T, dir string) {
				if m := modeOf(t, dir+"/bin"); m&fs.ModeSetuid == 0 {
					t.Errorf("mode %v has no setuid", m)
				}
			},
		},
		{
			name:  "the same content changes nothing",
			setup: func(t *testing.T, dir string) { writeFile(t, dir+"/f", "same\n", 0o644) },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/f", "content": "same\n", "mode": "0644"}
			},
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
		},
		{
			name:  "binary files",
			setup: func(t *testing.T, dir string) { writeFile(t, dir+"/blob", "a\x00b", 0o644) },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/blob", "content": "text\n"}
			},
			wantChange: true,
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
			wantContent: []string{"Binary files", "differ"},
		},
		{
			name: "nested directory",
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/a/b/c", "state": "directory", "mode": "0750"}
			},
			wantChange: true,
			wantBefore: map[string]string{"state": "absent"}, wantAfter: map[string]string{"state": "directory", "mode": "0750"},
			verify: func(t *testing.T, dir string) {
				if m := modeOf(t, dir+"/a/b/c"); m != fs.ModeDir|0o750 {
					t.Errorf("mode %v", m)
				}
			},
		},
		{
			name:  "directory mode",
			setup: func(t *testing.T, dir string) { os.Mkdir(dir+"/d", 0o700) },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/d", "state": "directory", "mode": "0755"}
			},
			wantChange: true,
			wantBefore: map[string]string{"mode": "0700"}, wantAfter: map[string]string{"mode": "0755"},
		},
		{
			name: "new link",
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/current", "state": "link", "src": "releases/1"}
			},
			wantChange: true,
			wantBefore: map[string]string{"state": "absent", "src": ""}, wantAfter: map[string]string{"state": "link", "src": "releases/1"},
			verify: func(t *testing.T, dir string) {
				if got, _ := os.Readlink(dir + "/current"); got != "releases/1" {
					t.Errorf("link to %q", got)
				}
			},
		},
		{
			name:  "link retargeted",
			setup: func(t *testing.T, dir string) { os.Symlink("releases/1", dir+"/current") },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/current", "state": "link", "src": "releases/2"}
			},
			wantChange: true,
			wantBefore: map[string]string{"src": "releases/1"}, wantAfter: map[string]string{"src": "releases/2"},
			verify: func(t *testing.T, dir string) {
				if got, _ := os.Readlink(dir + "/current"); got != "releases/2" {
					t.Errorf("link to %q", got)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("%d entries left in the directory, want only the link", len(entries))
				}
			},
		},
		{
			name:  "force replaces a file with a link",
			setup: func(t *testing.T, dir string) { writeFile(t, dir+"/l", "x", 0o644) },
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/l", "state": "link", "src": "/etc/hostname", "force": true}
			},
			wantChange: true,
			wantBefore: map[string]string{"state": "file", "src": ""}, wantAfter: map[string]string{"state": "link", "src": "/etc/hostname"},
		},
		{
			name:       "absent file shows the removed content",
			setup:      func(t *testing.T, dir string) { writeFile(t, dir+"/old", "bye\n", 0o644) },
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/old", "state": "absent"} },
			wantChange: true,
			wantBefore: map[string]string{"state": "file"}, wantAfter: map[string]string{"state": "absent"},
			wantContent: []string{"+++ /dev/null", "-bye"},
			verify: func(t *testing.T, dir string) {
				if _, err := os.Lstat(dir + "/old"); !os.IsNotExist(err) {
					t.Errorf("still there: %v", err)
				}
			},
		},
		{
			name:       "absent directory tree",
			setup:      func(t *testing.T, dir string) { writeFile(t, dir+"/tree/a/b", "x", 0o644) },
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/tree", "state": "absent"} },
			wantChange: true,
			wantBefore: map[string]string{"state": "directory"}, wantAfter: map[string]string{"state": "absent"},
		},
		{
			name:       "absent and missing",
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/none", "state": "absent"} },
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
		},
		{
			name:       "touch a missing file",
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/stamp", "state": "touch"} },
			wantChange: true,
			wantBefore: map[string]string{"state": "absent"}, wantAfter: map[string]string{"state": "file", "mode": "0644"},
		},
		{
			name:       "touch an existing file leaves it alone",
			setup:      func(t *testing.T, dir string) { writeFile(t, dir+"/stamp", "keep", 0o600) },
			args:       func(dir string) map[string]any { return map[string]any{"path": dir + "/stamp", "state": "touch"} },
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
		},
		{
			name: "content through a link goes to its target",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir+"/real", "old\n", 0o644)
				os.Symlink("real", dir+"/via")
			},
			args: func(dir string) map[string]any {
				return map[string]any{"path": dir + "/via", "content": "new\n"}
			},
			wantChange: true,
			wantBefore: map[string]string{}, wantAfter: map[string]string{},
			wantContent: []string{"-old", "+new"},
			verify: func(t *testing.T, dir string) {
				if got, _ := os.Readlink(dir + "/via"); got != "real" {
					t.Errorf("the link was replaced")
				}
				if got := readFile(t, dir+"/real"); got != "new\n" {
					t.Errorf("target content %q", got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			res := converge(t, tun, "file", tc.args(dir), dir, tc.wantChange)
			before, after, content := diffOf(res)
			if !equalMaps(before, tc.wantBefore) || !equalMaps(after, tc.wantAfter) {
				t.Errorf("diff before %v after %v, want %v and %v", before, after, tc.wantBefore, tc.wantAfter)
			}
			for _, want := range tc.wantContent {
				if !strings.Contains(content, want) {
					t.Errorf("content diff lacks %q:\n%s", want, content)
				}
			}
			if len(tc.wantContent) == 0 && content != "" {
				t.Errorf("unexpected content diff:\n%s", content)
			}
			if tc.verify != nil {
				tc.verify(t, dir)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	writeFile(t, dir+"/f", "x", 0o644)
	os.Mkdir(dir+"/d", 0o755)
	cases := []struct {
		args map[string]any
		want string
		// applyOnly is a failure check mode does not predict: an earlier
		// task of the plan may make the missing directory.
		applyOnly bool
	}{
		{map[string]any{"path": dir + "/f", "state": "fifo"}, `state must be "file", "directory", "link", "touch" or "absent", not "fifo"`, false},
		{map[string]any{"path": dir + "/d", "state": "directory", "content": "x"}, `content is only for state = "file"`, false},
		{map[string]any{"path": dir + "/missing"}, `does not exist; give content to create it, or use state = "touch"`, false},
		{map[string]any{"path": dir + "/d", "content": "x"}, "is a directory, not a regular file", false},
		{map[string]any{"path": dir + "/f", "state": "directory"}, "is a file, not a directory", false},
		{map[string]any{"path": dir + "/l", "state": "link"}, "needs src", false},
		{map[string]any{"path": dir + "/f", "state": "link", "src": "/tmp"}, "set force = true to replace it", false},
		{map[string]any{"path": dir + "/f", "mode": "rw-r--r--"}, `mode "rw-r--r--" is not octal digits`, false},
		{map[string]any{"path": dir + "/f", "mode": 99999}, "out of range", false},
		{map[string]any{"path": dir + "/f", "mode": 4.5}, "not a whole number", false},
		{map[string]any{"path": dir + "/f", "owner": "no-such-user-chopplan"}, `no such user "no-such-user-chopplan"`, false},
		{map[string]any{"path": dir + "/f", "state": "absent", "mode": "0644"}, "do not apply to state = \"absent\"", false},
		{map[string]any{"path": dir + "/nodir/f", "content": "x"}, "its directory " + dir + "/nodir does not exist", true},
		{map[string]any{"path": dir + "/f", "src": "x"}, `src is only for state = "link"`, false},
		{map[string]any{"path": dir + "/f", "colour": "blue"}, `unsupported argument "colour"`, false},
	}
	for _, tc := range cases {
		before := snapshot(t, dir)
		for _, check := range []bool{true, false} {
			if check && tc.applyOnly {
				continue
			}
			_, err := call(tun, "file", tc.args, check)
			wantError(t, err, tc.want)
		}
		if snapshot(t, dir) != before {
			t.Errorf("%v: a failed call changed the file system", tc.args)
		}
	}
}

// TestFileOwner changes ownership as root and checks that replacing a
// file's content keeps the owner it had.
func TestFileOwner(t *testing.T) {
	testenv.Root(t)
	name := testenv.TestUser(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	tun := local(t)
	dir := t.TempDir()
	writeFile(t, dir+"/f", "x\n", 0o644)

	res := converge(t, tun, "file", map[string]any{"path": dir + "/f", "owner": name}, dir, true)
	before, after, _ := diffOf(res)
	if before["owner"] != "root" || after["owner"] != name {
		t.Errorf("owner diff %v -> %v", before, after)
	}
	converge(t, tun, "file", map[string]any{"path": dir + "/f", "content": "y\n"}, dir, true)
	if got := ownerOf(t, dir+"/f"); got != uid {
		t.Errorf("after new content the file belongs to uid %d, want %d (%s)", got, uid, name)
	}
	os.Symlink("f", dir+"/l")
	converge(t, tun, "file", map[string]any{"path": dir + "/l", "state": "link", "src": "f", "owner": name}, dir, true)
	if got := ownerOf(t, dir+"/l"); got != uid {
		t.Errorf("link belongs to uid %d, want %d", got, uid)
	}
}

// TestFileUnprivileged runs an agent as an ordinary user through sudo:
// it manages its own files and fails clearly where it lacks permission.
func TestFileUnprivileged(t *testing.T) {
	name := testenv.SudoUser(t)
	tun := tunnel.New(tunnel.Sudo("", name), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	t.Cleanup(func() { tun.Close() })
	dir := testenv.UserDir(t, name)

	converge(t, tun, "file", map[string]any{"path": dir + "/conf", "content": "a=1\n", "mode": "0640"}, dir, true)
	converge(t, tun, "file", map[string]any{"path": dir + "/conf", "content": "a=2\n"}, dir, true)
	if m := modeOf(t, dir+"/conf"); m != 0o640 {
		t.Errorf("mode %v, want 0640 kept", m)
	}
	_, err := call(tun, "file", map[string]any{"path": dir + "/conf", "owner": "root"}, false)
	wantError(t, err, "operation not permitted")
	_, err = call(tun, "file", map[string]any{"path": "/root/chopplan-test-" + filepath.Base(dir), "content": "x"}, false)
	wantError(t, err, "permission denied")
}

func ownerOf(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
