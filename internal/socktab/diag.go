package socktab

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// dump sends one sock_diag dump request (SOCK_DIAG_BY_FAMILY) with body on
// the netlink socket fd, and hands each answer's payload to each, until the
// kernel says it is done.
func dump(fd int, body []byte, each func(payload []byte)) error {
	req := make([]byte, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 20) // SOCK_DIAG_BY_FAMILY
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence
	copy(req[unix.SizeofNlMsghdr:], body)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if done, err := readDump(buf[:n], each); done || err != nil {
			return err
		}
	}
}

// readDump hands the payload of each message of b, what one receive of a
// sock_diag dump read, to each, and reports whether the kernel said the dump
// is over: done, or refused.
func readDump(b []byte, each func(payload []byte)) (done bool, err error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return true, fmt.Errorf("malformed netlink message: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			return true, fmt.Errorf("the kernel refused the dump")
		}
		each(m.Data)
	}
	return false, nil
}

// diagSocket opens a sock_diag netlink socket in the network namespace at
// nsPath (the socket stays bound to the namespace it was made in), or in the
// caller's own when nsPath is "".
func diagSocket(nsPath string) (int, error) {
	open := func() (int, error) {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	}
	if nsPath == "" {
		return open()
	}
	target, err := os.Open(nsPath)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	// setns changes only this OS thread; keep the goroutine on it, and put the
	// thread back before letting go of it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return -1, err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return -1, fmt.Errorf("enter %s: %w", nsPath, err)
	}
	fd, oerr := open()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace and must not be reused: leave it
		// locked so the runtime ends it with this goroutine.
		runtime.LockOSThread()
		if oerr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("return from %s: %w", nsPath, err)
	}
	return fd, oerr
}
