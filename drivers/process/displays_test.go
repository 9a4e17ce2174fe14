package process

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestClearStaleDisplays: marks of X servers that are gone are cleared; a
// display whose socket is listened on, or whose lock names a live X server,
// is left alone.
func TestClearStaleDisplays(t *testing.T) {
	dir := t.TempDir()
	lockOf, sockOf, marksOf := xLockFile, xSocket, xrdpMarks
	t.Cleanup(func() { xLockFile, xSocket, xrdpMarks = lockOf, sockOf, marksOf })
	xLockFile = func(n int) string { return filepath.Join(dir, ".X"+strconv.Itoa(n)+"-lock") }
	xSocket = func(n int) string { return filepath.Join(dir, "X"+strconv.Itoa(n)) }
	xrdpMarks = func(n int) []string { return []string{filepath.Join(dir, "xrdp_display_"+strconv.Itoa(n))} }
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
	// 102 also left xorgxrdp's socket in xrdp's sockdir.
	write(xrdpMarks(102)[0], "")
	// 104: a FIFO planted as a lock file must not hang the clearing.
	if err := syscall.Mkfifo(xLockFile(104), 0o644); err != nil {
		t.Fatal(err)
	}
	// 103: a live listener on the socket, no lock: in use.
	ln, err := net.Listen("unix", xSocket(103))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// 105: a live X server's lock and socket (not listened on yet: it is
	// starting). Its stand-in is sleep(1) run under the name Xvfb.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	xvfb := filepath.Join(dir, "Xvfb")
	if err := os.Symlink(sleep, xvfb); err != nil {
		t.Fatal(err)
	}
	x := exec.Command(xvfb, "60")
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Process.Kill(); _ = x.Wait() })
	write(xLockFile(105), "      "+strconv.Itoa(x.Process.Pid)+"\n")
	write(xSocket(105), "")

	d := &Driver{Log: hclog.NewNullLogger()}
	d.clearStaleDisplays(100, 105)
	for _, p := range []string{xLockFile(101), xSocket(101), xLockFile(102), xrdpMarks(102)[0], xLockFile(104)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is stale and still there", p)
		}
	}
	if _, err := os.Stat(xSocket(103)); err != nil {
		t.Errorf("a listened-on display was cleared: %v", err)
	}
	for _, p := range []string{xLockFile(105), xSocket(105)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a live X server's display was cleared: %v", err)
		}
	}
}
