package termsafe

import "testing"

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é ✓\ttab": "plain text, é ✓\ttab",
		"\rover":               "^Mover",
		"\x1b[31mred\x1b[0m":   "\x1b[31mred\x1b[0m",
		"\x1b[31;1":            "^[[31;1", // no end: not a colour
		"\x1b]0;title\x07":     "^[]0;title^G",
		"del\x7f":              "del^?",
		"\xff\u009b":           "\ufffd\ufffd",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
