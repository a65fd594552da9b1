//go:build !linux

package builtins

import "syscall"

// watchExit: without pidfds, Wait blocks in the system call as usual.
func watchExit(*syscall.SysProcAttr) (await func()) { return func() {} }
