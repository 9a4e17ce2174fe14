// Package xidle asks a session's X server how long its user has been idle:
// the time since the last keyboard or mouse input it received, which is what
// xorgxrdp feeds it from the RDP client. TCP traffic is no measure of this (RDP
// clients keep acknowledging frames while nobody touches them).
//
// It speaks just enough of the X11 protocol for that: the connection setup
// with the session's MIT-MAGIC-COOKIE-1, QueryExtension "MIT-SCREEN-SAVER",
// and ScreenSaverQueryInfo on the first screen's root window. It reaches the
// server through its socket in /tmp/.X11-unix as the X server's own root sees
// it, so it works the same for a container's session seen from the host.
package xidle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Source names where IdleOf's figure comes from, as sessions report it.
const Source = "x11-input"

// IdleOf returns how long the X server xpid, serving display, run with args
// by user uid, has had no keyboard or mouse input. It reads the server's
// cookie from the file its -auth argument names (else ~/.Xauthority in its
// working folder), which must be a regular file owned by uid, and gives up
// after timeout.
func IdleOf(xpid, display int, args []string, uid int, timeout time.Duration) (time.Duration, error) {
	cookie, err := cookieOf(xpid, display, args, uid)
	if err != nil {
		return 0, err
	}
	sock, err := procfs.OpenatInRoot(xpid, "/tmp/.X11-unix/X"+strconv.Itoa(display), unix.O_PATH)
	if err != nil {
		return 0, fmt.Errorf("xidle: socket of display :%d: %w", display, err)
	}
	defer unix.Close(sock)
	// Connect through the descriptor: the socket is the one in the X
	// server's root, whatever links lead there.
	conn, err := net.DialTimeout("unix", "/proc/self/fd/"+strconv.Itoa(sock), timeout)
	if err != nil {
		return 0, fmt.Errorf("xidle: display :%d: %w", display, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	ms, err := query(conn, cookie)
	if err != nil {
		return 0, fmt.Errorf("xidle: display :%d: %w", display, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// cookieOf reads the MIT-MAGIC-COOKIE-1 for display from the authority
// file of the X server xpid, run with args by uid.
func cookieOf(xpid, display int, args []string, uid int) ([]byte, error) {
	file := ""
	for i := 1; i+1 < len(args); i++ {
		if args[i] == "-auth" {
			file = args[i+1]
			break
		}
	}
	if file == "" {
		file = ".Xauthority"
	}
	if !path.IsAbs(file) {
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(xpid) + "/cwd")
		if err != nil {
			return nil, fmt.Errorf("xidle: working folder of pid %d: %w", xpid, err)
		}
		file = path.Join(cwd, file)
	}
	fd, err := procfs.OpenatInRoot(xpid, file, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW)
	if err != nil {
		return nil, fmt.Errorf("xidle: authority file of pid %d: %w", xpid, err)
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !st.Mode().IsRegular() || !ok || int(sys.Uid) != uid {
		return nil, fmt.Errorf("xidle: %s is not a regular file of the X server's user", file)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	cookie := findCookie(b, strconv.Itoa(display))
	if cookie == nil {
		return nil, fmt.Errorf("xidle: no MIT-MAGIC-COOKIE-1 for display :%d in %s", display, file)
	}
	return cookie, nil
}

// findCookie returns the MIT-MAGIC-COOKIE-1 for display number in an
// Xauthority file: records of a big-endian family and four length-prefixed
// fields (address, display number, protocol name, data).
func findCookie(b []byte, number string) []byte {
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, false
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f, true
	}
	for len(b) >= 2 {
		b = b[2:] // family: any local or wild entry serves a socket connection
		_, ok1 := field()
		num, ok2 := field()
		name, ok3 := field()
		data, ok4 := field()
		if !(ok1 && ok2 && ok3 && ok4) {
			return nil
		}
		if string(num) == number && string(name) == "MIT-MAGIC-COOKIE-1" && len(data) > 0 {
			return data
		}
	}
	return nil
}

// query runs the protocol on conn and returns ms-since-user-input.
func query(conn io.ReadWriter, cookie []byte) (uint32, error) {
	le := binary.LittleEndian
	const auth = "MIT-MAGIC-COOKIE-1"
	req := make([]byte, 12, 12+pad(len(auth))+pad(len(cookie)))
	req[0] = 'l' // little-endian from here on
	le.PutUint16(req[2:], 11)
	le.PutUint16(req[6:], uint16(len(auth)))
	le.PutUint16(req[8:], uint16(len(cookie)))
	req = append(req, padded([]byte(auth))...)
	req = append(req, padded(cookie)...)
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	head := make([]byte, 8)
	if _, err := io.ReadFull(conn, head); err != nil {
		return 0, fmt.Errorf("connection setup: %w", err)
	}
	extra := int(le.Uint16(head[6:])) * 4
	if extra > 1<<20 {
		return 0, errors.New("connection setup: reply too long")
	}
	body := make([]byte, extra)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, fmt.Errorf("connection setup: %w", err)
	}
	switch head[0] {
	case 1:
	case 0:
		reason := body[:min(int(head[1]), len(body))]
		return 0, fmt.Errorf("connection refused: %s", bytes.TrimSpace(reason))
	default:
		return 0, fmt.Errorf("connection setup: the server asks for more authentication (%d)", head[0])
	}
	// body starts at byte 8 of the setup reply: vendor length at 24,
	// screen and format counts at 28 and 29, vendor at 40.
	if len(body) < 32 {
		return 0, errors.New("connection setup: short reply")
	}
	vendor, formats := int(le.Uint16(body[16:])), int(body[21])
	rootAt := 32 + pad(vendor) + 8*formats
	if body[20] == 0 || len(body) < rootAt+4 {
		return 0, errors.New("connection setup: no screen")
	}
	root := le.Uint32(body[rootAt:])

	const ext = "MIT-SCREEN-SAVER"
	q := make([]byte, 8, 8+pad(len(ext)))
	q[0] = 98 // QueryExtension
	le.PutUint16(q[2:], uint16(2+pad(len(ext))/4))
	le.PutUint16(q[4:], uint16(len(ext)))
	q = append(q, padded([]byte(ext))...)
	rep, err := roundTrip(conn, q)
	if err != nil {
		return 0, fmt.Errorf("QueryExtension: %w", err)
	}
	if rep[8] == 0 {
		return 0, errors.New("the X server has no MIT-SCREEN-SAVER extension")
	}
	info := make([]byte, 8)
	info[0], info[1] = rep[9], 1 // ScreenSaverQueryInfo
	le.PutUint16(info[2:], 2)
	le.PutUint32(info[4:], root)
	rep, err = roundTrip(conn, info)
	if err != nil {
		return 0, fmt.Errorf("ScreenSaverQueryInfo: %w", err)
	}
	return le.Uint32(rep[16:]), nil
}

// roundTrip sends one request and reads its 32-byte reply (neither request
// has a longer one); an X error is returned as such.
func roundTrip(conn io.ReadWriter, req []byte) ([]byte, error) {
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	rep := make([]byte, 32)
	for {
		if _, err := io.ReadFull(conn, rep); err != nil {
			return nil, err
		}
		switch rep[0] {
		case 0:
			return nil, fmt.Errorf("X error %d", rep[1])
		case 1:
			if n := binary.LittleEndian.Uint32(rep[4:]); n != 0 {
				return nil, fmt.Errorf("unexpected reply of %d more words", n)
			}
			return rep, nil
		}
		// An event: none were asked for, but skip it.
	}
}

func pad(n int) int { return (n + 3) &^ 3 }

// padded returns a copy of b padded to 4 bytes.
func padded(b []byte) []byte {
	out := make([]byte, pad(len(b)))
	copy(out, b)
	return out
}
