// Package termsafe shows text from targets on a terminal as data: what a
// host writes can neither move the cursor (to overwrite another host's
// line) nor send the terminal commands (set its title, write the
// clipboard), nor leave its colours on for the lines after it. Control
// characters other than tab, and escape sequences other than colours
// (SGR: ESC [ digits and semicolons m), are shown in caret notation (^M,
// ^[); bytes that are not UTF-8, C1 controls and the bidirectional
// overrides that can reorder what a line shows become U+FFFD; a line
// that set a colour ends with a reset.
package termsafe

import (
	"bytes"
	"unicode/utf8"
)

// MaxLine is the longest line held back for its end, by what prints a
// host's output a line at a time: a longer one is printed in pieces (cut
// where Cut says), so a host writing without newlines cannot make the
// controller hold all it writes.
const MaxLine = 64 << 10

// reset ends the colours a line set.
const reset = "\x1b[0m"

// Append appends the line b as it is to be shown.
func Append(dst, b []byte) []byte {
	coloured := false
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			dst = append(dst, c)
			b = b[1:]
		case c == 0x1b && sgrLen(b) > 0:
			n := sgrLen(b)
			dst = append(dst, b[:n]...)
			// Parameters of only 0s (or none) reset; any other sets.
			coloured = len(bytes.Trim(b[2:n-1], "0;")) > 0
			b = b[n:]
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '^', c^0x40)
			b = b[1:]
		default:
			r, size := utf8.DecodeRune(b)
			if hidden(r) {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			b = b[size:]
		}
	}
	if coloured {
		dst = append(dst, reset...)
	}
	return dst
}

// hidden reports a rune shown as U+FFFD: C1 controls, and the
// bidirectional embeddings, overrides, isolates and marks, with which a
// line can show its characters in another order than they are.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r < 0xa0,
		r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// String is the line s as it is to be shown; s itself when nothing changes.
func String(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c >= 0x7f {
			return string(Append(make([]byte, 0, len(s)+8), []byte(s)))
		}
	}
	return s
}

// Cut is where to cut a line longer than n bytes, at most n bytes in: not
// inside a UTF-8 sequence nor an escape sequence, which would show as two
// broken halves.
func Cut(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	cut := n
	for k := 0; k < utf8.UTFMax && cut > 0 && !utf8.RuneStart(b[cut]); k++ {
		cut--
	}
	from := max(0, cut-64)
	if j := bytes.LastIndexByte(b[from:cut], 0x1b); j >= 0 {
		if esc := from + j; sgrLen(b[esc:]) > cut-esc || unfinishedSGR(b[esc:]) {
			cut = esc // a colour sequence runs past the cut, or may yet
		}
	}
	if cut == 0 {
		return n
	}
	return cut
}

// unfinishedSGR reports whether b is the start of a colour sequence that
// has not ended yet: ESC [ and digits or semicolons up to b's end.
func unfinishedSGR(b []byte) bool {
	if len(b) < 2 || b[0] != 0x1b {
		return len(b) == 1 && b[0] == 0x1b
	}
	if b[1] != '[' || len(b) > 64 {
		return false
	}
	for _, c := range b[2:] {
		if c != ';' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// sgrLen is the length of the colour (SGR) sequence b begins with, or 0.
func sgrLen(b []byte) int {
	if len(b) < 3 || b[0] != 0x1b || b[1] != '[' {
		return 0
	}
	for i := 2; i < len(b) && i < 64; i++ {
		switch c := b[i]; {
		case c == 'm':
			return i + 1
		case c != ';' && (c < '0' || c > '9'):
			return 0
		}
	}
	return 0
}
