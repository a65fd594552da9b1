package builtins

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"
)

// maxDiffSize bounds each side of a content diff: Myers' algorithm costs
// time and memory in the product of the sizes, and a diff of a large file
// is not something anyone reads in a plan.
const maxDiffSize = 256 << 10

// contentDiff returns a unified diff from before to after, labelled with
// path. A side that did not exist is diffed from /dev/null, as diff -N
// does. Binary or oversized content gives a one-line summary instead, and
// identical content gives "".
func contentDiff(path string, before []byte, beforeExists bool, after []byte, afterExists bool) string {
	if beforeExists == afterExists && bytes.Equal(before, after) {
		return ""
	}
	from, to := path, path
	if !beforeExists {
		from = "/dev/null"
	}
	if !afterExists {
		to = "/dev/null"
	}
	if isBinary(before) || isBinary(after) {
		return fmt.Sprintf("Binary files %s and %s differ\n", from, to)
	}
	if len(before) > maxDiffSize || len(after) > maxDiffSize {
		return largeDiff(from, to, int64(len(before)), int64(len(after)))
	}
	return udiff.Unified(from, to, string(before), string(after))
}

// isBinary uses git's rule of thumb, a NUL byte near the start, and also
// counts invalid UTF-8 as binary: a result string must be valid UTF-8, and
// a diff with replacement characters would show changes that are not there.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 || !utf8.Valid(b)
}

// largeDiff is the summary that stands for a diff too large to show.
func largeDiff(from, to string, fromSize, toSize int64) string {
	return fmt.Sprintf("Files %s (%d bytes) and %s (%d bytes) differ; too large to show a diff\n", from, fromSize, to, toSize)
}
