// Package socktab reads the host's TCP socket table from /proc/net/tcp and
// /proc/net/tcp6: listening sockets (who holds a port) and established ones
// (live RDP connections). One Read is meant to serve a whole reconcile pass.
package socktab

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Socket is one TCP socket.
type Socket struct {
	Local, Remote net.IP
	LocalPort     int
	RemotePort    int
	Inode         uint64
	UID           int
}

// Table is a snapshot of the TCP sockets of this network namespace.
type Table struct {
	Listening   []Socket
	Established []Socket
}

const (
	stateEstablished = 0x01
	stateListen      = 0x0A
)

// Read reads /proc/net/tcp and /proc/net/tcp6.
func Read() (*Table, error) { return ReadFrom("/proc/net") }

// tablesRead counts the socket tables read: TCP tables (ReadFrom) and Unix
// socket dumps (UnixPeers).
var tablesRead atomic.Int64

// TablesRead returns how many socket tables this process has read, for the
// benchmark that checks that a pass reads each once per network namespace.
func TablesRead() int64 { return tablesRead.Load() }

// ReadFrom reads tcp and tcp6 under dir (for tests, or /proc/PID/net).
func ReadFrom(dir string) (*Table, error) {
	tablesRead.Add(1)
	t := &Table{}
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if name == "tcp6" && os.IsNotExist(err) {
				continue // IPv6 disabled
			}
			return nil, fmt.Errorf("socktab: %w", err)
		}
		if err := t.parse(b); err != nil {
			return nil, fmt.Errorf("socktab: %s: %w", name, err)
		}
	}
	return t, nil
}

func (t *Table) parse(b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil || (st != stateListen && st != stateEstablished) {
			continue
		}
		var s Socket
		if s.Local, s.LocalPort, err = parseAddr(f[1]); err != nil {
			return err
		}
		if s.Remote, s.RemotePort, err = parseAddr(f[2]); err != nil {
			return err
		}
		s.UID, _ = strconv.Atoi(f[7])
		s.Inode, _ = strconv.ParseUint(f[9], 10, 64)
		if st == stateListen {
			t.Listening = append(t.Listening, s)
		} else {
			t.Established = append(t.Established, s)
		}
	}
	return sc.Err()
}

// parseAddr reads "0100007F:0D3D": an address in 32-bit host-order words, then
// a hex port.
func parseAddr(s string) (net.IP, int, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	// Each 4-byte word is little-endian on the machines lucid-rdp targets
	// (amd64, arm64).
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("bad port %q", s)
	}
	return net.IP(raw), int(port), nil
}

// ListenerOn returns the listening socket that would clash with binding
// address:port, if any: same port, and the same address or a wildcard on
// either side.
func (t *Table) ListenerOn(address string, port int) (Socket, bool) {
	want := net.ParseIP(address)
	for _, s := range t.Listening {
		if s.LocalPort != port {
			continue
		}
		if want == nil || want.IsUnspecified() || s.Local.IsUnspecified() || s.Local.Equal(want) {
			return s, true
		}
	}
	return Socket{}, false
}

// Holder is a process holding a socket.
type Holder struct {
	PID  int
	Comm string
}

func (h Holder) String() string { return fmt.Sprintf("pid %d (%s)", h.PID, h.Comm) }

// Holders maps socket inodes to the processes that hold them, by scanning
// /proc/*/fd once. Processes this user cannot inspect are skipped, so an inode
// may have no holder.
func Holders(inodes []uint64) map[uint64]Holder {
	want := make(map[uint64]bool, len(inodes))
	for _, ino := range inodes {
		want[ino] = true
	}
	out := map[uint64]Holder{}
	if len(want) == 0 {
		return out
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		for _, ino := range procfs.SocketInodes(pid) {
			if want[ino] {
				comm, _ := procfs.Comm(pid)
				out[ino] = Holder{PID: pid, Comm: comm}
			}
		}
		if len(out) == len(want) {
			break
		}
	}
	return out
}

// ListeningUnixPaths returns the paths of the listening Unix sockets of this
// network namespace, from /proc/net/unix; abstract ones ("@/tmp/.X11-unix/X10")
// under their path.
func ListeningUnixPaths() map[string]bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return map[string]bool{}
	}
	return parseUnixListening(b)
}

// parseUnixListening reads the paths of the listening sockets from the text
// of /proc/net/unix.
func parseUnixListening(b []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 = accepting.
		if len(f) < 8 {
			continue
		}
		if flags, _ := strconv.ParseUint(f[3], 16, 32); flags&0x10000 != 0 {
			out[strings.TrimPrefix(f[7], "@")] = true
		}
	}
	return out
}
