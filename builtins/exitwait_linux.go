package builtins

import (
	"os"
	"syscall"
	"unsafe"
)

// watchExit asks for a pidfd of the process attr starts and returns a
// function that parks until that process has exited. It parks in Go's
// network poller: a goroutine blocked in waitid instead holds a thread in
// a system call, and the runtime's monitor then wakes every 20 µs for the
// first millisecond of each command to see whether to take its processor
// back, which on a small machine costs a short command a good part of
// its time. Where pidfds do not work, the function returns at once and
// Wait blocks as usual.
func watchExit(attr *syscall.SysProcAttr) (await func()) {
	pidfd := -1
	attr.PidFD = &pidfd
	return func() {
		if pidfd < 0 {
			return
		}
		if err := syscall.SetNonblock(pidfd, true); err != nil {
			syscall.Close(pidfd)
			return
		}
		f := os.NewFile(uintptr(pidfd), "pidfd")
		defer f.Close()
		if rc, err := f.SyscallConn(); err == nil {
			rc.Read(exited)
		}
	}
}

const (
	pPIDFD  = 3         // waitid's idtype for a pidfd (P_PIDFD)
	wNOWAIT = 0x1000000 // leave the child waitable (WNOWAIT)
)

// exited reports whether the process behind pidfd has exited, leaving it
// to be reaped by Wait. An error counts as exited: Wait then finds out.
func exited(pidfd uintptr) bool {
	var info [128]byte // siginfo_t; si_pid is the int32 at offset 16
	_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPIDFD, pidfd, uintptr(unsafe.Pointer(&info[0])),
		syscall.WEXITED|syscall.WNOHANG|wNOWAIT, 0, 0)
	return e != 0 || *(*int32)(unsafe.Pointer(&info[16])) != 0
}
