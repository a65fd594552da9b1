// Package termsafe shows text from targets on a terminal as data: what a
// host writes can neither move the cursor (to overwrite another host's
// line) nor send the terminal commands (set its title, write the
// clipboard). Control characters other than tab, and escape sequences
// other than colours (SGR: ESC [ digits and semicolons m), are shown in
// caret notation (^M, ^[); bytes that are not UTF-8, and C1 controls,
// become U+FFFD.
package termsafe

import "unicode/utf8"

// Append appends b as it is to be shown.
func Append(dst, b []byte) []byte {
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			dst = append(dst, c)
			b = b[1:]
		case c == 0x1b && sgrLen(b) > 0:
			n := sgrLen(b)
			dst = append(dst, b[:n]...)
			b = b[n:]
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '^', c^0x40)
			b = b[1:]
		default:
			r, size := utf8.DecodeRune(b)
			if r >= 0x80 && r < 0xa0 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			b = b[size:]
		}
	}
	return dst
}

// String is s as it is to be shown; s itself when nothing changes.
func String(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c >= 0x7f {
			return string(Append(make([]byte, 0, len(s)+8), []byte(s)))
		}
	}
	return s
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
