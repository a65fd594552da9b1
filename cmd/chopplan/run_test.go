package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
)

func TestRunExitStatuses(t *testing.T) {
	testenv.Root(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"success", []string{"run", "--on", "local", "--", "echo", "hi"}, 0, "local | hi\n"},
		{"one dash long flags", []string{"run", "-on", "local", "-shell", "--", "echo hi"}, 0, "local | hi\n"},
		{"command failed", []string{"run", "--on", "local", "--", "sh", "-c", "exit 3"}, exitFailed, ""},
		{"unreachable", []string{"run", "--on", "sudo:no-such-user-z", "--", "true"}, exitUnreachable, ""},
		{"both", []string{"run", "--on", "local", "--on", "sudo:no-such-user-z", "--", "false"}, exitFailed | exitUnreachable, ""},
		{"no target", []string{"run", "--", "true"}, exitError, ""},
		{"bad target", []string{"run", "--on", "gopher://x", "--", "true"}, exitError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if tc.out != "" && out != tc.out {
				t.Fatalf("stdout = %q, want %q", out, tc.out)
			}
		})
	}
}

func TestRunFailureNamesHost(t *testing.T) {
	code, _, errs := runCLI(t, "", "run", "--on", "local", "--", "sh", "-c", "echo broken >&2; exit 5")
	if code != exitFailed || !strings.Contains(errs, "local | FAILED: exec: sh exited with status 5: broken") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// What a host says in a failure is shown, not obeyed: a CR cannot turn
// the line into another host's, an escape cannot command the terminal.
func TestRunFailureShowsControlCharacters(t *testing.T) {
	code, _, errs := runCLI(t, "", "run", "--on", "local", "--", "sh", "-c", `printf '\rweb2 | ok \033]0;x\007' >&2; exit 5`)
	if code != exitFailed || !strings.Contains(errs, "local | FAILED: exec: sh exited with status 5: ^Mweb2 | ok ^[]0;x^G") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// A failure's line ending in CRLF shows no ^M.
func TestRunFailureDropsTheClosingCR(t *testing.T) {
	code, _, errs := runCLI(t, "", "run", "--on", "local", "--", "sh", "-c", `printf 'bad\r\n' >&2; exit 5`)
	if code != exitFailed || !strings.Contains(errs, "status 5: bad\n") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestRunJSON(t *testing.T) {
	code, out, _ := runCLI(t, "", "run", "-json", "--on", "local", "--on", "exec://sh", "--", "sh", "-c", "echo out; exit 4")
	if code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	var hosts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec runRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if rec.Status != "failed" || rec.RC == nil || *rec.RC != 4 || rec.Stdout != "out\n" {
			t.Fatalf("record = %+v", rec)
		}
		hosts = append(hosts, rec.Host)
	}
	if !reflect.DeepEqual(hosts, []string{"local", "sh"}) {
		t.Fatalf("hosts = %v", hosts)
	}
}

func TestFacts(t *testing.T) {
	code, out, errs := runCLI(t, "", "facts", "--on", "local", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rec struct {
		Host  string         `json:"host"`
		Facts map[string]any `json:"facts"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Host != "local" || rec.Facts["os"] != "linux" {
		t.Fatalf("facts output %q: %v", out, err)
	}
}

func TestNormalizeFlags(t *testing.T) {
	got := normalizeFlags([]string{"-json", "-var", "a=b", "-v", "-", "--on", "x", "--", "-json"})
	want := []string{"--json", "--var", "a=b", "-v", "-", "--on", "x", "--", "-json"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestFactsOfAPlan(t *testing.T) {
	dir := copyDir(t, "../../examples/plans/hello")
	code, out, errs := runCLI(t, "", "facts", "-json", dir)
	if code != 0 || !strings.Contains(out, `"host":"localhost"`) || !strings.Contains(out, `"os":"linux"`) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}
