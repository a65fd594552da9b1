package chunk

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = uintptr(os.Getpagesize())

// dropPages gives up b's pages (MADV_DONTNEED): whatever else refers to
// them, a pipe they were spliced into, keeps them, and b reads as zeros.
// It reports false, doing nothing, unless b spans whole pages: dropping
// a page b shares with other memory would zero that memory.
func dropPages(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if start%pageSize != 0 || uintptr(len(b))%pageSize != 0 {
		return false
	}
	return unix.Madvise(b, unix.MADV_DONTNEED) == nil
}
