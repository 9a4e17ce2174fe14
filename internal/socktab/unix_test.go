package socktab

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
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
// and when the namespace is given by path; another namespace's dump does not
// hold them.
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

	if os.Geteuid() != 0 {
		testenv.Missing(t, "entering another network namespace needs root")
	}
	other := exec.Command("unshare", "--net", "sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	ns := "/proc/" + strconv.Itoa(other.Process.Pid) + "/ns/net"
	var peers map[uint64]uint64
	for i := 0; ; i++ { // until unshare has made the namespace and run sleep
		self, _ := os.Readlink("/proc/self/ns/net")
		theirs, _ := os.Readlink(ns)
		if theirs != "" && theirs != self {
			break
		}
		if i == 500 { // 10 s: a loaded machine can be slow to fork and exec
			t.Fatal("unshare --net made no namespace within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if peers, err = UnixPeers(ns); err != nil {
		t.Fatalf("UnixPeers(%q): %v", ns, err)
	}
	if _, ok := peers[a]; ok {
		t.Errorf("UnixPeers(%q) holds this namespace's socket %d: it did not enter %s", ns, a, ns)
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
