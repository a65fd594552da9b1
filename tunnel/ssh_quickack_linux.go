package tunnel

import (
	"net"
	"syscall"
)

// quickAck returns c so that the kernel acknowledges what it receives at
// once instead of delaying the ACK.
//
// sshd does not set TCP_NODELAY on a session without a terminal, so when
// it writes two small packets in a row, as it does right after
// authentication, Nagle's algorithm holds the second until the first is
// acknowledged. Linux delays that ACK by 40 ms while the client has
// nothing to send, and the client has nothing to send because it waits
// for the second packet: every connection lost 40 ms before its session
// opened. TCP_QUICKACK is not sticky (the kernel goes back to delayed
// ACKs on its own), so it is set again before each read; a setsockopt per
// read costs far less than one stall.
func quickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckConn{TCPConn: tc, rc: rc}
}

type quickAckConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	c.rc.Control(setQuickAck)
	return c.TCPConn.Read(p)
}

func setQuickAck(fd uintptr) {
	syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
}
