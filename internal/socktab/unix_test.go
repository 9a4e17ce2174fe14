package socktab

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func inodeOf(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestUnixPeers: both ends of a socket pair name each other, in this namespace
// and when the namespace is given by path.
func TestUnixPeers(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	a, b := inodeOf(t, fds[0]), inodeOf(t, fds[1])
	for _, ns := range []string{"", "/proc/self/ns/net"} {
		peers, err := UnixPeers(ns)
		if err != nil {
			if os.Geteuid() != 0 && ns != "" {
				continue // entering a namespace needs CAP_SYS_ADMIN
			}
			t.Fatalf("UnixPeers(%q): %v", ns, err)
		}
		if peers[a] != b || peers[b] != a {
			t.Errorf("UnixPeers(%q): %d -> %d, %d -> %d; want each other (%d entries)", ns, a, peers[a], b, peers[b], len(peers))
		}
	}
}

// TestReadListening: a listener of ours is in the sock_diag dump, as in
// /proc/net/tcp, with the same address, port and inode.
func TestReadListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fast, err := ReadListening()
	if err != nil {
		t.Fatal(err)
	}
	slow, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	a, ok1 := fast.ListenerOn("127.0.0.1", port)
	b, ok2 := slow.ListenerOn("127.0.0.1", port)
	if !ok1 || !ok2 || !a.Local.Equal(b.Local) || a.Inode != b.Inode || a.Inode == 0 {
		t.Fatalf("ReadListening %+v (%v), Read %+v (%v)", a, ok1, b, ok2)
	}
}
