package builtins_test

import (
	"os"
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	tun := local(t)
	cases := []struct {
		name    string
		initial *string // nil: the file does not exist
		args    map[string]any
		want    string
		found   int64
		change  bool
	}{
		{name: "append", initial: ptr("a\nb\n"), args: map[string]any{"line": "c"}, want: "a\nb\nc\n", change: true},
		{name: "already there", initial: ptr("a\nc\nb\n"), args: map[string]any{"line": "c"}, want: "a\nc\nb\n", found: 1},
		{name: "regexp replaces the last match", initial: ptr("port=1\nx\nport=2\n"),
			args: map[string]any{"regexp": "^port=", "line": "port=3"}, want: "port=1\nx\nport=3\n", found: 2, change: true},
		{name: "regexp already satisfied", initial: ptr("port=3\n"),
			args: map[string]any{"regexp": "^port=", "line": "port=3"}, want: "port=3\n", found: 1},
		{name: "insert after the last match", initial: ptr("[main]\nk=v\n[other]\n"),
			args: map[string]any{"line": "new=1", "insert_after": `^\[main\]`}, want: "[main]\nnew=1\nk=v\n[other]\n", change: true},
		{name: "insert after nothing matching goes at the end", initial: ptr("a\n"),
			args: map[string]any{"line": "z", "insert_after": "^nope"}, want: "a\nz\n", change: true},
		{name: "insert before", initial: ptr("a\nend\n"),
			args: map[string]any{"line": "b", "insert_before": "^end$"}, want: "a\nb\nend\n", change: true},
		{name: "insert at the start", initial: ptr("b\n"),
			args: map[string]any{"line": "a", "insert_before": "BOF"}, want: "a\nb\n", change: true},
		{name: "no final newline", initial: ptr("a\nb"), args: map[string]any{"line": "c"}, want: "a\nb\nc\n", change: true},
		{name: "CRLF file", initial: ptr("a\r\nb\r\n"), args: map[string]any{"line": "c"}, want: "a\r\nb\r\nc\r\n", change: true},
		{name: "CRLF line already there", initial: ptr("a\r\nb\r\n"), args: map[string]any{"line": "b"}, want: "a\r\nb\r\n", found: 1},
		{name: "absent removes every match", initial: ptr("#x\ny\n#z\n"),
			args: map[string]any{"regexp": "^#", "state": "absent"}, want: "y\n", found: 2, change: true},
		{name: "absent by line", initial: ptr("a\nb\na\n"),
			args: map[string]any{"line": "a", "state": "absent"}, want: "b\n", found: 2, change: true},
		{name: "absent from a missing file", args: map[string]any{"line": "a", "state": "absent"}},
		{name: "create", args: map[string]any{"line": "x=1", "create": true, "mode": "0600"}, want: "x=1\n", change: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := dir + "/conf"
			if tc.initial != nil {
				writeFile(t, path, *tc.initial, 0o644)
			}
			args := map[string]any{"path": path}
			for k, v := range tc.args {
				args[k] = v
			}
			res := converge(t, tun, "line", args, dir, tc.change)
			if got := res.GetAttr("found"); !got.RawEquals(intVal(tc.found)) {
				t.Errorf("found %s, want %d", show(got), tc.found)
			}
			_, _, diff := diffOf(res)
			if tc.change != (diff != "") {
				t.Errorf("content diff %q for changed = %v", diff, tc.change)
			}
			b, err := os.ReadFile(path)
			if tc.initial == nil && tc.want == "" {
				if !os.IsNotExist(err) {
					t.Errorf("the file exists: %v", err)
				}
				return
			}
			if string(b) != tc.want {
				t.Errorf("file holds %q, want %q", b, tc.want)
			}
		})
	}
}

func TestLineKeepsModeAndShowsDiff(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	path := dir + "/sshd_config"
	writeFile(t, path, "Port 22\nPermitRootLogin yes\nUsePAM yes\n", 0o600)
	res := converge(t, tun, "line", map[string]any{"path": path, "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"}, dir, true)
	_, _, diff := diffOf(res)
	if !strings.Contains(diff, "-PermitRootLogin yes\n+PermitRootLogin no\n") {
		t.Errorf("diff:\n%s", diff)
	}
	if m := modeOf(t, path); m != 0o600 {
		t.Errorf("mode %v, want 0600 kept", m)
	}
}

func TestLineErrors(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	path := dir + "/conf"
	writeFile(t, path, "a\n", 0o644)
	os.Mkdir(dir+"/d", 0o755)
	cases := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"path": dir + "/missing", "line": "x"}, "does not exist; set create = true"},
		{map[string]any{"path": path}, `state = "present" needs line`},
		{map[string]any{"path": path, "state": "absent"}, "needs line or regexp"},
		{map[string]any{"path": path, "line": "x", "insert_after": "a", "insert_before": "b"}, "not both"},
		{map[string]any{"path": path, "line": "x", "regexp": "("}, "regexp: error parsing regexp"},
		{map[string]any{"path": path, "line": "x", "insert_after": "["}, "insert_after: error parsing regexp"},
		{map[string]any{"path": path, "line": "x\ny"}, "single line"},
		{map[string]any{"path": path, "line": "x", "state": "gone"}, `state must be "present" or "absent"`},
		{map[string]any{"path": dir + "/d", "line": "x"}, "is a directory, not a regular file"},
	}
	for _, tc := range cases {
		before := snapshot(t, dir)
		for _, check := range []bool{true, false} {
			_, err := call(tun, "line", tc.args, check)
			wantError(t, err, tc.want)
		}
		if snapshot(t, dir) != before {
			t.Errorf("%v: a failed call changed the file system", tc.args)
		}
	}
}

func ptr(s string) *string { return &s }
