package termsafe

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é ✓\ttab":   "plain text, é ✓\ttab",
		"\rover":                 "^Mover",
		"\x1b[31mred\x1b[0m":     "\x1b[31mred\x1b[0m",
		"\x1b[31mred, left on":   "\x1b[31mred, left on\x1b[0m",
		"\x1b[8mhidden\x1b[m!":   "\x1b[8mhidden\x1b[m!",
		"\x1b[31;1":              "^[[31;1", // no end: not a colour
		"\x1b]0;title\x07":       "^[]0;title^G",
		"del\x7f":                "del^?",
		"\xff\u009b":             "\ufffd\ufffd",
		"abc\u202edcba\u2066x":   "abc\ufffddcba\ufffdx",
		"\u200fmark\u061c\u200e": "\ufffdmark\ufffd\ufffd",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

// A long line is cut where neither a character nor a colour breaks.
func TestCut(t *testing.T) {
	for _, tc := range []struct {
		b    string
		n    int
		want int
	}{
		{"abcdef", 3, 3},
		{"ab", 5, 2},
		{"aé", 2, 1},              // é is 2 bytes from 1
		{"a✓", 2, 1},              // ✓ is 3 bytes from 1
		{"ab\x1b[31mc", 4, 2},     // inside ESC[31m
		{"ab\x1b[31mc", 7, 7},     // after it
		{"ab\x1b]0;t\x07c", 4, 4}, // not a colour: shown as ^[, cut anywhere
		{strings.Repeat("é", 3), 1, 1},
		{"ab\x1b[3", 4, 2},  // a colour that may yet end: kept whole
		{"ab\x1b[3x", 4, 4}, // not a colour after all
	} {
		if got := Cut([]byte(tc.b), tc.n); got != tc.want {
			t.Errorf("Cut(%q, %d) = %d, want %d", tc.b, tc.n, got, tc.want)
		}
	}
}
