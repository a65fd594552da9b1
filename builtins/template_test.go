package builtins_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	dest := dir + "/nginx.conf"
	v1 := "worker_processes 2;\nlisten 80;\n"
	v2 := "worker_processes 4;\nlisten 80;\n"

	res := converge(t, tun, "template", map[string]any{"dest": dest, "content": v1, "mode": "0640"}, dir, true)
	before, after, content := diffOf(res)
	if before["state"] != "absent" || after["state"] != "file" || after["mode"] != "0640" {
		t.Errorf("new file diff %v -> %v", before, after)
	}
	if !strings.Contains(content, "+worker_processes 2;") {
		t.Errorf("content diff:\n%s", content)
	}

	res = converge(t, tun, "template", map[string]any{"dest": dest, "content": v2, "backup": true}, dir, true)
	if _, _, content := diffOf(res); !strings.Contains(content, "-worker_processes 2;\n+worker_processes 4;\n listen 80;") {
		t.Errorf("content diff:\n%s", content)
	}
	backup := res.GetAttr("backup_file").AsString()
	if !strings.HasPrefix(backup, dest+".") || !strings.HasSuffix(backup, "~") {
		t.Fatalf("backup_file %q", backup)
	}
	if got := readFile(t, backup); got != v1 {
		t.Errorf("backup holds %q, want the old content", got)
	}
	if got := readFile(t, dest); got != v2 {
		t.Errorf("dest holds %q", got)
	}
	if m := modeOf(t, dest); m != 0o640 {
		t.Errorf("mode %v, want the 0640 it had", m)
	}
	if backups, _ := filepath.Glob(dest + ".*~"); len(backups) != 1 {
		t.Errorf("backups %v, want one: the converged runs make none", backups)
	}
}

func TestTemplateErrors(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	os.Mkdir(dir+"/d", 0o755)
	cases := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"dest": dir + "/x"}, `the argument "content" is required`},
		{map[string]any{"dest": dir + "/d", "content": "x"}, "is a directory, not a regular file"},
		{map[string]any{"dest": dir + "/x", "content": "x", "src": "x.tpl"}, `unsupported argument "src"`},
		{map[string]any{"dest": dir + "/x", "content": "x", "mode": "0999"}, "is not octal digits"},
	}
	for _, tc := range cases {
		_, err := call(tun, "template", tc.args, false)
		wantError(t, err, tc.want)
	}
}
