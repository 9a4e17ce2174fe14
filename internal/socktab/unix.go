package socktab

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// UnixPeers maps the inode of every connected Unix socket of a network
// namespace to the inode of its peer, read with one sock_diag dump. nsPath names
// the namespace (such as /proc/PID/ns/net of a container's process); "" is the
// caller's own. /proc/net/unix shows no peers; this is how an xrdp connection
// process is tied to the X server it drives.
func UnixPeers(nsPath string) (map[uint64]uint64, error) {
	tablesRead.Add(1)
	fd, err := diagSocket(nsPath)
	if err != nil {
		return nil, fmt.Errorf("socktab: unix peers: %w", err)
	}
	defer unix.Close(fd)
	const udiagShowPeer = 0x4
	req := make([]byte, 24) // unix_diag_req
	req[0] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(req[4:], 0xffffffff) // every state
	binary.NativeEndian.PutUint32(req[12:], udiagShowPeer)
	out := map[uint64]uint64{}
	err = dump(fd, req, func(d []byte) {
		if ino, peer, ok := parseUnixPeer(d); ok {
			out[ino] = peer
		}
	})
	if err != nil {
		return nil, fmt.Errorf("socktab: unix peers: %w", err)
	}
	return out, nil
}

// parseUnixPeer reads a Unix socket's inode and its peer's from the payload
// of one answer of a sock_diag dump (a unix_diag_msg and its attributes);
// false when it names no peer.
func parseUnixPeer(d []byte) (ino, peer uint64, ok bool) {
	// unix_diag_msg: family, type, state, pad (1 byte each), inode (u32),
	// cookie (2 x u32); then attributes.
	if len(d) < 16 {
		return 0, 0, false
	}
	ino = uint64(binary.NativeEndian.Uint32(d[4:]))
	for attrs := d[16:]; len(attrs) >= 4; {
		alen := int(binary.NativeEndian.Uint16(attrs[0:]))
		atyp := binary.NativeEndian.Uint16(attrs[2:])
		if alen < 4 || alen > len(attrs) {
			break
		}
		if atyp == 2 && alen >= 8 { // UNIX_DIAG_PEER
			if p := binary.NativeEndian.Uint32(attrs[4:]); p != 0 {
				peer, ok = uint64(p), true
			}
		}
		attrs = attrs[min((alen+3)&^3, len(attrs)):]
	}
	return ino, peer, ok
}
