package process

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestClearStaleDisplays: marks of X servers that are gone are cleared; a
// display whose socket is listened on is left alone.
func TestClearStaleDisplays(t *testing.T) {
	dir := t.TempDir()
	lockOf, sockOf := xLockFile, xSocket
	t.Cleanup(func() { xLockFile, xSocket = lockOf, sockOf })
	xLockFile = func(n int) string { return filepath.Join(dir, ".X"+strconv.Itoa(n)+"-lock") }
	xSocket = func(n int) string { return filepath.Join(dir, "X"+strconv.Itoa(n)) }
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 101: an X server killed hard: a lock naming a dead pid, and its socket.
	write(xLockFile(101), "   4194304\n")
	write(xSocket(101), "")
	// 102: a lock naming a live process that is no X server (a reused pid).
	write(xLockFile(102), strconv.Itoa(os.Getpid())+"\n")
	// 103: a live listener on the socket, no lock: in use.
	ln, err := net.Listen("unix", xSocket(103))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	d := &Driver{Log: hclog.NewNullLogger()}
	d.clearStaleDisplays(100, 104)
	for _, p := range []string{xLockFile(101), xSocket(101), xLockFile(102)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is stale and still there", p)
		}
	}
	if _, err := os.Stat(xSocket(103)); err != nil {
		t.Errorf("a listened-on display was cleared: %v", err)
	}
}
