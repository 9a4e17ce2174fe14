package socktab

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// UnixPeers maps the inode of every connected Unix socket of a network
// namespace to the inode of its peer, read with one sock_diag dump. nsPath names
// the namespace (such as /proc/PID/ns/net of a container's process); "" is the
// caller's own. /proc/net/unix shows no peers; this is how an xrdp connection
// process is tied to the X server it drives.
func UnixPeers(nsPath string) (map[uint64]uint64, error) {
	fd, err := diagSocket(nsPath)
	if err != nil {
		return nil, fmt.Errorf("socktab: unix peers: %w", err)
	}
	defer unix.Close(fd)

	const udiagShowPeer = 0x4
	req := make([]byte, unix.SizeofNlMsghdr+24)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 20) // SOCK_DIAG_BY_FAMILY
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence
	body := req[unix.SizeofNlMsghdr:]
	body[0] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(body[4:], 0xffffffff) // every state
	binary.NativeEndian.PutUint32(body[12:], udiagShowPeer)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("socktab: unix peers: send: %w", err)
	}
	out := map[uint64]uint64{}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("socktab: unix peers: receive: %w", err)
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("socktab: unix peers: %w", err)
		}
		for _, m := range msgs {
			switch m.typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("socktab: unix peers: the kernel refused the dump")
			}
			// unix_diag_msg: family, type, state, pad (1 byte each), inode (u32),
			// cookie (2 x u32); then attributes.
			if len(m.data) < 16 {
				continue
			}
			ino := uint64(binary.NativeEndian.Uint32(m.data[4:]))
			for attrs := m.data[16:]; len(attrs) >= 4; {
				alen := int(binary.NativeEndian.Uint16(attrs[0:]))
				atyp := binary.NativeEndian.Uint16(attrs[2:])
				if alen < 4 || alen > len(attrs) {
					break
				}
				if atyp == 2 && alen >= 8 { // UNIX_DIAG_PEER
					if peer := binary.NativeEndian.Uint32(attrs[4:]); peer != 0 {
						out[ino] = uint64(peer)
					}
				}
				attrs = attrs[min((alen+3)&^3, len(attrs)):]
			}
		}
	}
}

type nlMsg struct {
	typ  uint16
	data []byte
}

func parseNetlink(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return nil, fmt.Errorf("malformed netlink message")
		}
		out = append(out, nlMsg{typ: binary.NativeEndian.Uint16(b[4:]), data: b[unix.SizeofNlMsghdr:l]})
		b = b[min((l+3)&^3, len(b)):]
	}
	return out, nil
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
