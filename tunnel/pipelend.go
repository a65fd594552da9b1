package tunnel

import (
	"os"

	"golang.org/x/sys/unix"
)

// lend puts p's pages into the pipe w with vmsplice(2), waiting for room
// in Go's poller; p must not change until the pipe's reader has taken it
// (agent.PipeLender).
func lend(w *os.File, p []byte) error {
	rc, err := w.SyscallConn()
	if err != nil {
		return err
	}
	for len(p) > 0 {
		var n int
		var verr error
		err := rc.Write(func(fd uintptr) bool {
			iov := unix.Iovec{Base: &p[0]}
			iov.SetLen(len(p))
			n, verr = unix.Vmsplice(int(fd), []unix.Iovec{iov}, unix.SPLICE_F_NONBLOCK)
			return verr != unix.EAGAIN
		})
		if err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		p = p[n:]
	}
	return nil
}

// unread is how many bytes written to the pipe w its reader has not taken
// yet (FIONREAD).
func unread(w *os.File) (int, error) {
	rc, err := w.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n uint32
	var ierr error
	// FIONREAD (TIOCINQ) writes a 4-byte int: read as an 8-byte one,
	// a big-endian host would see the count shifted 32 bits.
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCINQ) }); err != nil {
		return 0, err
	}
	return int(n), ierr
}
