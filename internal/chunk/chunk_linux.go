package chunk

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = uintptr(os.Getpagesize())

// pageAligned returns n zeroed bytes that start on a page boundary. Go
// places a 1 MiB buffer on an 8 KiB boundary, a whole page on most
// kernels but not on those with 16 or 64 KiB pages.
func pageAligned(n int) []byte {
	b := make([]byte, n)
	if start(b)%pageSize == 0 {
		return b
	}
	b = make([]byte, n+int(pageSize))
	off := int(pageSize - start(b)%pageSize)
	return b[off : off+n : off+n]
}

func start(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// dropPages gives up b's pages (MADV_DONTNEED): whatever else refers to
// them, a pipe they were spliced into, keeps them, and b reads as zeros.
// It reports false, doing nothing, unless b spans whole pages: dropping
// a page b shares with other memory would zero that memory.
func dropPages(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if start(b)%pageSize != 0 || uintptr(len(b))%pageSize != 0 {
		return false
	}
	return unix.Madvise(b, unix.MADV_DONTNEED) == nil
}
