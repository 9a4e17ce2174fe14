package process

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// Where X servers leave their marks; sesman takes a display whose lock file or
// socket exists as in use, and so it does with the sockets xorgxrdp and chansrv
// make for it in xrdp's sockdir.
var (
	xLockFile = func(n int) string { return "/tmp/.X" + strconv.Itoa(n) + "-lock" }
	xSocket   = func(n int) string { return "/tmp/.X11-unix/X" + strconv.Itoa(n) }
	xrdpMarks = func(n int) []string {
		d := strconv.Itoa(n)
		return []string{
			hostRunDir + "/sockdir/xrdp_display_" + d,
			hostRunDir + "/sockdir/xrdp_chansrv_socket_" + d,
			hostRunDir + "/sockdir/xrdp_chansrv_audio_out_socket_" + d,
			hostRunDir + "/sockdir/xrdp_chansrv_audio_in_socket_" + d,
			hostRunDir + "/sockdir/xrdpapi_" + d,
		}
	}
)

// clearStaleDisplays removes the lock files and sockets that X servers killed
// hard (kill -9, the OOM killer) left behind in displays first..last, the
// server's block: sesman takes each for a display in use, and after max+1 such
// crashes the server would refuse every login. A display is stale only when no
// live X server holds its lock and nothing listens on its socket, as Xorg
// itself judges a lock at start.
func (d *Driver) clearStaleDisplays(first, last int) {
	listening := socktab.ListeningUnixPaths()
	for n := first; n <= last; n++ {
		lock, sock := xLockFile(n), xSocket(n)
		marks := append([]string{lock, sock}, xrdpMarks(n)...)
		present := false
		for _, m := range marks {
			if _, err := os.Lstat(m); err == nil {
				present = true
			}
		}
		if !present {
			continue // free
		}
		if pid, ok := lockPID(lock); ok && isXServer(pid) {
			continue
		}
		inUse := false
		for _, m := range marks[1:] {
			inUse = inUse || listening[m]
		}
		if inUse {
			continue
		}
		for _, m := range marks {
			_ = os.Remove(m) // never follows a symlink: removes the link itself
		}
		d.Log.Info("cleared a display an X server left behind", "display", n)
	}
}

// lockPID reads the pid in an X lock file. /tmp is anyone's: the file is
// opened without following links or blocking (a FIFO planted there must not
// hang lucid-rdp), must be a regular file, and only its first bytes are read.
func lockPID(path string) (int, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	buf := make([]byte, 32)
	n, err := unix.Read(fd, buf)
	if err != nil || n <= 0 {
		return 0, false
	}
	return parseLockPID(buf[:n])
}

// parseLockPID reads the pid an X lock file holds: Xorg writes it as ten
// characters, right-aligned, and a newline.
func parseLockPID(b []byte) (int, bool) {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil
}

// isXServer reports whether pid is a live X server.
func isXServer(pid int) bool {
	if pid <= 0 {
		return false
	}
	if _, err := procfs.StartTime(pid); err != nil {
		return false
	}
	comm, err := procfs.Comm(pid)
	if err != nil {
		return false
	}
	switch comm {
	case "Xorg", "Xvnc", "Xvfb", "X", "Xwayland":
		return true
	}
	return false
}
