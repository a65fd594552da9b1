// Package bigbuf allocates large byte slices that are about to be filled
// from end to end, such as a large result value arriving in parts.
//
// Touching fresh memory costs a page fault per 4 KiB page; on some virtual
// machines a fault costs 10 µs or more, which makes filling a 50 MB buffer
// take 150 ms. Where the kernel offers transparent huge pages on request
// (the "madvise" setting most distributions ship), a buffer of several
// megabytes is advised to use them, and fills with one fault per 2 MiB.
package bigbuf

import (
	"os"
	"strings"
)

// threshold is the size from which a buffer is advised to use huge pages:
// below it, the aligned interior would hold at most one huge page.
const threshold = 4 << 20

// Make returns a zeroed byte slice of length n and capacity c (c >= n).
func Make(n, c int) []byte {
	b := make([]byte, n, c)
	if c >= threshold && !thpDisabled {
		adviseHuge(b[:c])
	}
	return b
}

// thpDisabled honours GODEBUG=disablethp=1, with which a program asks Go
// to keep its heap off transparent huge pages.
var thpDisabled = strings.Contains(","+os.Getenv("GODEBUG")+",", ",disablethp=1,")
