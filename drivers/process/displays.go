package process

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Where X servers leave their marks; sesman takes a display whose lock file or
// socket exists as in use.
var (
	xLockFile = func(n int) string { return "/tmp/.X" + strconv.Itoa(n) + "-lock" }
	xSocket   = func(n int) string { return "/tmp/.X11-unix/X" + strconv.Itoa(n) }
)

// clearStaleDisplays removes the lock files and sockets that X servers killed
// hard (kill -9, the OOM killer) left behind in displays first..last, the
// server's block: sesman takes each for a display in use, and after max+1 such
// crashes the server would refuse every login. A display is stale only when no
// live X server holds its lock and nothing listens on its socket, as Xorg
// itself judges a lock at start.
func (d *Driver) clearStaleDisplays(first, last int) {
	listening := listeningUnixPaths()
	for n := first; n <= last; n++ {
		lock, sock := xLockFile(n), xSocket(n)
		_, lerr := os.Stat(lock)
		_, serr := os.Stat(sock)
		if lerr != nil && serr != nil {
			continue // free
		}
		if b, err := os.ReadFile(lock); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isXServer(pid) {
				continue
			}
		}
		if listening[sock] {
			continue
		}
		_ = os.Remove(lock)
		_ = os.Remove(sock)
		d.Log.Info("cleared a display an X server left behind", "display", n)
	}
}

// isXServer reports whether pid is a live X server.
func isXServer(pid int) bool {
	if pid <= 0 {
		return false
	}
	if _, err := procfs.StartTime(pid); err != nil {
		return false
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return false
	}
	switch strings.TrimSpace(string(comm)) {
	case "Xorg", "Xvnc", "Xvfb", "X", "Xwayland":
		return true
	}
	return false
}

// listeningUnixPaths returns the paths of listening Unix sockets, from
// /proc/net/unix, abstract ones ("@/tmp/.X11-unix/X10") under their path.
func listeningUnixPaths() map[string]bool {
	out := map[string]bool{}
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 = accepting.
		if len(f) < 8 {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if flags&0x10000 != 0 {
			out[strings.TrimPrefix(f[7], "@")] = true
		}
	}
	return out
}
