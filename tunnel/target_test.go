package tunnel_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/chopplan/chopplan/tunnel"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "ip netns exec ns1 sh", want: []string{"ip", "netns", "exec", "ns1", "sh"}},
		{in: `docker exec -i 'my container' sh`, want: []string{"docker", "exec", "-i", "my container", "sh"}},
		{in: `sh -c "echo \"hi\" \$HOME"`, want: []string{"sh", "-c", `echo "hi" $HOME`}},
		{in: `a\ b c''d ""`, want: []string{"a b", "cd", ""}},
		{in: `  spaced   out  `, want: []string{"spaced", "out"}},
		{in: `'open`, err: "unterminated '"},
		{in: `"open`, err: `unterminated "`},
	} {
		got, err := tunnel.SplitCommand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SplitCommand(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, kind, args string
		err            string
	}{
		{in: "local", kind: "local"},
		{in: "sudo:deploy", kind: "sudo", args: "deploy"},
		{in: "sudo", kind: "sudo", args: "root"},
		{in: "ssh://deploy@web1:2222", kind: "ssh", args: `"host":"web1"`},
		{in: "ssh://web1", kind: "ssh", args: `"port":0`},
		{in: "ssh://[::1]:2200", kind: "ssh", args: `"host":"::1"`},
		{in: "deploy@web1", kind: "ssh", args: `"user":"deploy"`},
		{in: "exec://ip netns exec 'ns 1' sh", kind: "exec", args: `["ip","netns","exec","ns 1","sh"]`},
		{in: "exec://", err: "names no command"},
		{in: "gopher://x", err: "unknown target scheme"},
		{in: "sudo:", err: "names no user"},
		{in: "ssh://web1/path", err: "unexpected path"},
	} {
		k, err := tunnel.ParseTarget(tc.in, tunnel.TargetDefaults{HostKeyMode: tunnel.HostKeyAcceptNew})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
			continue
		}
		kind, args := k.(tunnel.Describer).Describe()
		js := describeJSON(t, args)
		if kind != tc.kind || !strings.Contains(js, tc.args) {
			t.Errorf("ParseTarget(%q) = %s %s; want %s with %s", tc.in, kind, js, tc.kind, tc.args)
		}
		if kind == "ssh" && !strings.Contains(js, `"host_key_mode":"accept-new"`) {
			t.Errorf("ParseTarget(%q) ignored the defaults: %s", tc.in, js)
		}
	}
}

func describeJSON(t *testing.T, v cty.Value) string {
	t.Helper()
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
