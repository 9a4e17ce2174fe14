package socktab

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// kernelAddr writes ip as /proc/net/tcp does: each 32-bit word as the
// machine holds it, in hex.
func kernelAddr(ip []byte) string {
	var b strings.Builder
	for i := 0; i < len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:]))
	}
	return b.String()
}

// FuzzTCPTable: any text as /proc/net/tcp or tcp6 reads without a panic,
// into sockets with IPv4 or IPv6 addresses; a line as the kernel writes it
// reads back as its address, ports, uid and inode, among the listening or
// the established sockets as its state says, and in neither for any other
// state (TIME_WAIT, ...).
func FuzzTCPTable(f *testing.F) {
	for _, b := range testenv.Samples(f, "tcp") {
		f.Add(b, []byte{127, 0, 0, 1}, uint16(13389), byte(0x0A), uint32(0), uint64(2559516))
		f.Add(b, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(3400), byte(0x01), uint32(1001), uint64(2561358))
	}
	f.Fuzz(func(t *testing.T, b, addr []byte, port uint16, state byte, uid uint32, inode uint64) {
		var tab Table
		_ = tab.parse(b)
		for _, s := range append(tab.Listening, tab.Established...) {
			if (len(s.Local) != 4 && len(s.Local) != 16) || (len(s.Remote) != 4 && len(s.Remote) != 16) {
				t.Fatalf("socket %+v: addresses of %d and %d bytes", s, len(s.Local), len(s.Remote))
			}
		}

		local := make([]byte, 4)
		if len(addr) >= 16 {
			local = make([]byte, 16)
		}
		copy(local, addr)
		remote := bytes.Clone(local)
		remote[0] ^= 0xff
		line := fmt.Sprintf("   0: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 000000004b021281 100 0 0 10 0\n",
			kernelAddr(local), port, kernelAddr(remote), port^0x5555, state, uid, inode)
		var got Table
		if err := got.parse([]byte(tcpHeader + line)); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		want := Socket{Local: local, Remote: remote, LocalPort: int(port), RemotePort: int(port ^ 0x5555), Inode: inode, UID: int(uid)}
		var wantTab Table
		switch state {
		case stateListen:
			wantTab.Listening = []Socket{want}
		case stateEstablished:
			wantTab.Established = []Socket{want}
		}
		if !reflect.DeepEqual(got, wantTab) {
			t.Fatalf("%q read as %+v; want %+v", line, got, wantTab)
		}
	})
}

const unixHeader = "Num       RefCount Protocol Flags    Type St Inode Path\n"

// FuzzUnixTable: any text as /proc/net/unix reads without a panic; a line
// as the kernel writes it is a listening path (abstract ones without their
// "@") exactly when its flags say it accepts connections.
//
// Not checked: a path with whitespace in it. The kernel writes paths as they
// are, and the table is read by fields, so "/tmp/a b" reads as "/tmp/a" (and
// a path with a newline could pass for a line of its own); nothing lucid-rdp
// looks for has whitespace in it.
func FuzzUnixTable(f *testing.F) {
	for _, b := range testenv.Samples(f, "unix") {
		f.Add(b, "/tmp/.X11-unix/X10", uint32(0x10000))
		f.Add(b, "@/tmp/.X11-unix/X10", uint32(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, path string, flags uint32) {
		parseUnixListening(b)
		if path == "" || len(path) > 4096 || strings.ContainsFunc(path, unicode.IsSpace) {
			return
		}
		line := fmt.Sprintf("000000009c50d73e: 00000002 00000000 %08X 0001 01 2560807 %s\n", flags, path)
		want := map[string]bool{}
		if flags&0x10000 != 0 {
			want[strings.TrimPrefix(path, "@")] = true
		}
		if got := parseUnixListening([]byte(unixHeader + line)); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q read as %v; want %v", line, got, want)
		}
		if got := parseUnixListening(append([]byte(unixHeader+line), b...)); flags&0x10000 != 0 && !got[strings.TrimPrefix(path, "@")] {
			t.Fatalf("%q, then other lines: %q is not listening", line, path)
		}
	})
}

// netlinkMessage frames payload as one netlink message of type typ, padded
// to 4 bytes as the kernel pads them.
func netlinkMessage(typ uint16, payload []byte) []byte {
	m := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload)+3)
	binary.NativeEndian.PutUint32(m[0:], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(m[4:], typ)
	binary.NativeEndian.PutUint16(m[6:], unix.NLM_F_MULTI)
	binary.NativeEndian.PutUint32(m[8:], 1)
	m = append(m, payload...)
	for len(m)%4 != 0 {
		m = append(m, 0)
	}
	return m
}

// FuzzSockDiag: any bytes, as one receive of a sock_diag dump and as the
// payload of one of its messages, read without a panic; a dump as the kernel
// frames it hands over each payload in turn and ends at NLMSG_DONE; an
// inet_diag_msg of a listening socket reads back as its address, port, uid
// and inode; a unix_diag_msg reads back as its inode and its peer's, whatever
// other attributes come before the peer's.
func FuzzSockDiag(f *testing.F) {
	for _, b := range testenv.Samples(f, "netlink") {
		f.Add(b, true, []byte{127, 0, 0, 1}, uint16(2024), uint32(0), uint32(125), uint32(2561206))
	}
	// One unix_diag_msg with its peer, alone.
	f.Add([]byte{1, 1, 1, 0, 0xc6, 0xfd, 0x22, 0, 0xac, 0xf9, 0, 0, 0, 0, 0, 0, 8, 0, 2, 0, 0xc5, 0xfd, 0x22, 0}, false,
		[]byte{127, 0, 0, 1}, uint16(2024), uint32(0), uint32(125), uint32(2293190))
	f.Add([]byte{}, false, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(3389), uint32(1001), uint32(2561358), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, v4 bool, addr []byte, port uint16, uid, inode, peer uint32) {
		var payloads int
		_, _ = readDump(b, func(d []byte) {
			payloads += len(d)
			parseListening(d)
			parseUnixPeer(d)
		})
		if payloads > len(b) {
			t.Fatalf("%d bytes of payload from %d bytes", payloads, len(b))
		}
		if s, ok := parseListening(b); ok && len(s.Local) != 4 && len(s.Local) != 16 {
			t.Fatalf("a listener at an address of %d bytes", len(s.Local))
		}
		parseUnixPeer(b)

		// An inet_diag_msg.
		family, size := byte(unix.AF_INET6), 16
		if v4 {
			family, size = unix.AF_INET, 4
		}
		local := make([]byte, size)
		copy(local, addr)
		inet := make([]byte, 72, 72+len(b))
		inet[0], inet[1] = family, tcpListen
		binary.BigEndian.PutUint16(inet[4:], port)
		copy(inet[8:], local)
		binary.NativeEndian.PutUint32(inet[64:], uid)
		binary.NativeEndian.PutUint32(inet[68:], inode)
		inet = append(inet, b...) // attributes, which the reader passes over
		want := Socket{Local: local, LocalPort: int(port), UID: int(uid), Inode: uint64(inode)}
		if got, ok := parseListening(inet); !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("inet_diag_msg read as %+v, %v; want %+v", got, ok, want)
		}

		// A unix_diag_msg: b cut into attributes of other types, then the peer's.
		ux := make([]byte, 16)
		ux[0] = unix.AF_UNIX
		binary.NativeEndian.PutUint32(ux[4:], inode)
		for rest, i := b, 0; len(rest) > 0; i++ {
			n := min(len(rest), 1+i%9)
			attr := make([]byte, 4, 4+n+3)
			binary.NativeEndian.PutUint16(attr[0:], uint16(4+n))
			binary.NativeEndian.PutUint16(attr[2:], uint16(3+i%5)) // not UNIX_DIAG_PEER (2)
			attr = append(attr, rest[:n]...)
			for len(attr)%4 != 0 {
				attr = append(attr, 0)
			}
			ux, rest = append(ux, attr...), rest[n:]
		}
		ux = append(ux, 8, 0, 2, 0, 0, 0, 0, 0)
		binary.NativeEndian.PutUint32(ux[len(ux)-4:], peer)
		if gotIno, gotPeer, ok := parseUnixPeer(ux); ok != (peer != 0) || (ok && (gotIno != uint64(inode) || gotPeer != uint64(peer))) {
			t.Fatalf("unix_diag_msg of %d, peer %d, read as %d, peer %d, %v", inode, peer, gotIno, gotPeer, ok)
		}

		// Both, framed as a dump, then its end; what follows the end is not read.
		const sockDiagByFamily = 20
		dump := append(append(append(netlinkMessage(sockDiagByFamily, inet), netlinkMessage(sockDiagByFamily, ux)...),
			netlinkMessage(unix.NLMSG_DONE, []byte{0, 0, 0, 0})...), netlinkMessage(sockDiagByFamily, inet)...)
		var got [][]byte
		done, err := readDump(dump, func(d []byte) { got = append(got, d) })
		if !done || err != nil || len(got) != 2 || !bytes.Equal(got[0], inet) || !bytes.Equal(got[1], ux) {
			t.Fatalf("dump read as %d payloads, done %v, %v; want the 2 framed, done", len(got), done, err)
		}
	})
}
