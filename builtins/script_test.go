package builtins_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

func TestScript(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	content := "#!/bin/sh\n" +
		"echo \"args: $*\"\n" +
		"echo \"greeting: $GREETING\"\n" +
		"echo \"cwd: $(pwd)\"\n" +
		"echo \"self: $0\"\n" +
		"echo \"private: $(stat -c %a \"$(dirname \"$0\")\")\"\n" +
		"echo oops >&2\n"
	res := mustCall(t, tun, "script", map[string]any{
		"content": content, "args": []string{"one", "two"},
		"env": map[string]string{"GREETING": "hi"}, "dir": dir,
	}, false)
	out := res.GetAttr("stdout").AsString()
	for _, want := range []string{"args: one two\n", "greeting: hi\n", "cwd: " + dir + "\n", "private: 700\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if got := res.GetAttr("stderr").AsString(); got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
	if !res.GetAttr("changed").True() || res.GetAttr("skipped").True() {
		t.Errorf("result %s", show(res))
	}
	_, self, _ := strings.Cut(out, "self: ")
	self, _, _ = strings.Cut(self, "\n")
	if _, err := os.Stat(filepath.Dir(self)); !os.IsNotExist(err) {
		t.Errorf("the script's directory %s is still there: %v", filepath.Dir(self), err)
	}
}

func TestScriptInterpreter(t *testing.T) {
	tun := local(t)
	cases := []struct {
		name        string
		content     string
		interpreter any
		want        string
	}{
		{"shebang with an argument", "#!/usr/bin/env sh\necho via env\n", nil, "via env\n"},
		{"no shebang runs /bin/sh", "echo plain sh\n", nil, "plain sh\n"},
		{"interpreter as a list", "echo unused\n", []string{"/bin/sh", "-c", `echo "listed: $0"`}, "listed: /"},
		{"interpreter as a string", "echo traced\n", "/bin/sh -x", "traced\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]any{"content": tc.content}
			if tc.interpreter != nil {
				args["interpreter"] = tc.interpreter
			}
			v, err := call(tun, "script", args, false)
			var re *agent.RemoteError
			if errors.As(err, &re) && re.Value != cty.NilVal {
				v = re.Value
			}
			if got := v.GetAttr("stdout").AsString(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("stdout %q, want %q first (err %v)", got, tc.want, err)
			}
		})
	}
}

// TestScriptGuardsAndCheckMode: creates makes a script idempotent, and
// check mode runs nothing but still reads the guards.
func TestScriptGuardsAndCheckMode(t *testing.T) {
	tun := local(t)
	dir := t.TempDir()
	marker := dir + "/installed"
	args := map[string]any{"content": "echo run >> " + marker + "\n", "creates": marker}

	planned := mustCall(t, tun, "script", args, true)
	if !planned.GetAttr("changed").True() || !planned.GetAttr("skipped").True() {
		t.Errorf("check mode: %s, want changed (would run) and skipped (did not)", show(planned))
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("check mode ran the script: %v", err)
	}
	first := mustCall(t, tun, "script", args, false)
	if !first.GetAttr("changed").True() || first.GetAttr("skipped").True() {
		t.Errorf("first run: %s", show(first))
	}
	for _, check := range []bool{false, true} {
		again := mustCall(t, tun, "script", args, check)
		if again.GetAttr("changed").True() || !again.GetAttr("skipped").True() {
			t.Errorf("run with the guard satisfied (check %v): %s", check, show(again))
		}
	}
	if got := readFile(t, marker); got != "run\n" {
		t.Errorf("the script ran %d times", strings.Count(got, "run"))
	}
	gone := mustCall(t, tun, "script", map[string]any{"content": "exit 9\n", "removes": dir + "/nothing"}, false)
	if !gone.GetAttr("skipped").True() {
		t.Errorf("removes of a missing path did not skip: %s", show(gone))
	}
}

func TestScriptFailures(t *testing.T) {
	tun := local(t)
	_, err := call(tun, "script", map[string]any{"content": "echo bad input >&2\nexit 3\n"}, false)
	wantError(t, err, "exited with status 3: bad input")
	var re *agent.RemoteError
	if errors.As(err, &re) && re.Value != cty.NilVal {
		if !re.Value.GetAttr("rc").RawEquals(intVal(3)) {
			t.Errorf("result with the failure: %s", show(re.Value))
		}
	} else {
		t.Errorf("the failure carries no result")
	}
	res := mustCall(t, tun, "script", map[string]any{"content": "exit 3\n", "ok_codes": []int{0, 3}}, false)
	if !res.GetAttr("rc").RawEquals(intVal(3)) {
		t.Errorf("rc %s", show(res.GetAttr("rc")))
	}
	_, err = call(tun, "script", map[string]any{"content": "sleep 60\n", "timeout": "100ms"}, false)
	wantError(t, err, "timed out after 100ms")
	_, err = call(tun, "script", map[string]any{"content": "#!\necho\n"}, false)
	wantError(t, err, "names no interpreter")
	_, err = call(tun, "script", map[string]any{"content": "echo\n", "interpreter": []string{}}, false)
	wantError(t, err, "interpreter: command: the list is empty")
	_, err = call(tun, "script", map[string]any{"content": "echo\n", "interpreter": "/no/such/interpreter"}, false)
	wantError(t, err, "no such file or directory")
}
