package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/internal/xidle"
)

// idleQueryTimeout bounds how long a session's X server may take to say how
// idle it is (a query takes 0.2 ms here): a hung one must not stall a pass.
const idleQueryTimeout = 300 * time.Millisecond

// XServers are the command names of the X servers sesman starts for sessions
// (the Xorg and Xvnc backends).
var XServers = []string{"Xorg", "Xvnc"}

// ServerProcs are the processes of one server that a session scan looks at.
// Drivers find them (by config path on the host, by container), and
// FindSessions turns them into sessions.
type ServerProcs struct {
	// Server is the server's name.
	Server string
	// Sesmans are the server's xrdp-sesman processes: its own (the one logins
	// reach, if it runs) and one per session, which sesman forks for each
	// session it starts and which is the parent of that session's X server.
	// Those outlive the server's own sesman.
	Sesmans []procfs.Stat
	// Conns are the server's xrdp processes: its listener, if it runs, and one
	// per client connection (the listener forks them; they outlive it).
	Conns []procfs.Stat
	// ListenerRuns is set while the server's listener runs: it is then one of
	// Conns (and serves no session). A drained server has none.
	ListenerRuns bool
	// RootPID is the process whose root holds the etc/passwd that names
	// users: 0 for the host, or a container's first process.
	RootPID int
}

// Busy reports whether sp may have sessions or leftovers, from procs alone:
// whether a sesman of it has children (a server's sesman forks one sesman per
// session, which starts the X server), or an xrdp process other than its
// listener runs. A server that is not busy needs none of its sockets read.
func (sp ServerProcs) Busy(procs *procfs.Procs) bool {
	for _, s := range sp.Sesmans {
		if len(procs.Children(s.PID)) > 0 {
			return true
		}
	}
	listeners := 0
	if sp.ListenerRuns {
		listeners = 1
	}
	return len(sp.Conns) > listeners
}

// Leftover is an xrdp connection process of a server that serves nobody: it
// holds no TCP connection and listens on nothing (its client is gone, and it
// did not exit). A driver reports what it sees; the agent ends a leftover
// that is still the same process, and still left over, a while later (see
// reconciler/agent). A disconnected session nobody can reconnect to is a
// Session with Orphan set.
type Leftover struct {
	Server string `json:"server"`
	// PID and StartTime identify the process.
	PID       int    `json:"pid"`
	StartTime uint64 `json:"pid_start_time"`
}

// EndLeftover ends l's process while its pid, start time and command name
// are still the ones it was seen with, and reports whether it did.
func EndLeftover(ctx context.Context, l Leftover, grace time.Duration) (bool, error) {
	ended, err := endProcess(ctx, l.PID, l.StartTime, grace, "xrdp")
	if err != nil {
		return ended, fmt.Errorf("end a leftover connection process of %s (pid %d): %w", l.Server, l.PID, err)
	}
	return ended, nil
}

// FindSessions lists the sessions of sp, and its leftovers: one session per X
// server a per-session sesman started, active while an xrdp connection
// process drives it. A connection is tied to its X server by the Unix socket
// between them (peers maps each socket inode to its peer's, see
// socktab.UnixPeers); its client is the TCP peer of its socket in tab.
// Connections tied to no X server (still at the login screen, or refused) are
// not sessions. A session is an orphan when its sesman's parent is none of
// the server's sesmans.
func FindSessions(sp ServerProcs, procs *procfs.Procs, tab *socktab.Table, peers map[uint64]uint64) SessionLook {
	var out []Session
	var names map[int]string   // read when the first session needs it
	xorgOf := map[uint64]int{} // socket inode of an X server -> index in out
	sesman := make(map[int]bool, len(sp.Sesmans))
	for _, l := range sp.Sesmans {
		sesman[l.PID] = true
	}
	for _, l := range sp.Sesmans {
		for _, k := range procs.Children(l.PID) {
			if !slices.Contains(XServers, k.Comm) {
				continue
			}
			s := Session{Server: sp.Server, State: SessionDisconnected, PID: k.PID, StartTime: k.StartTime,
				XPID: k.PID, XStartTime: k.StartTime, StartedAt: procfs.StartedAt(k.StartTime), Orphan: !sesman[l.PPID]}
			args, _ := procfs.Cmdline(k.PID)
			s.Display = displayOf(args)
			uid, uidErr := procfs.UID(k.PID)
			if uidErr == nil {
				if names == nil {
					names = procfs.UserNames(sp.RootPID)
				}
				s.User = names[uid]
				if s.User == "" {
					s.User = strconv.Itoa(uid)
				}
			}
			if s.Display <= 0 || uidErr != nil {
				s.IdleSource = "unknown: no display number or user of the X server"
			} else if idle, err := xidle.IdleOf(k.PID, s.Display, args, uid, idleQueryTimeout); err == nil {
				s.Idle, s.IdleSource = Duration(idle), xidle.Source
			} else {
				s.IdleSource = "unknown: " + err.Error()
			}
			for _, ino := range procfs.SocketInodes(k.PID) {
				xorgOf[ino] = len(out)
			}
			out = append(out, s)
		}
	}
	// Without a socket table (it could not be read) a connection tied to an X
	// server counts as active, and none is taken for a leftover.
	var left []Leftover
	tcp := map[uint64]socktab.Socket{}
	listening := map[uint64]bool{}
	if tab != nil {
		for _, s := range tab.Established {
			tcp[s.Inode] = s
		}
		for _, s := range tab.Listening {
			listening[s.Inode] = true
		}
	}
	for _, c := range sp.Conns {
		i, client, listener := -1, "", false
		for _, ino := range procfs.SocketInodes(c.PID) {
			if x, ok := xorgOf[peers[ino]]; ok && peers[ino] != 0 {
				i = x
			}
			if s, ok := tcp[ino]; ok && client == "" {
				client = net.JoinHostPort(s.Remote.String(), strconv.Itoa(s.RemotePort))
			}
			listener = listener || listening[ino]
		}
		if tab != nil && client == "" && !listener {
			// Its client is gone: it drives no session.
			left = append(left, Leftover{Server: sp.Server, PID: c.PID, StartTime: c.StartTime})
			continue
		}
		if i < 0 {
			continue
		}
		s := &out[i]
		// After a reconnect the newer connection is the one that counts.
		if s.State == SessionActive && s.StartTime > c.StartTime {
			continue
		}
		s.State, s.Client, s.PID, s.StartTime = SessionActive, client, c.PID, c.StartTime
		s.ConnectedAt = procfs.StartedAt(c.StartTime)
	}
	return SessionLook{Sessions: out, Leftovers: left}
}

// displayOf reads the display number of an X server from its arguments
// (argv[0] first): its first argument that starts with ":" (":10" is 10).
// It is 0 when there is none or it is not a number.
func displayOf(args []string) int {
	for _, a := range args[min(1, len(args)):] {
		if d, ok := strings.CutPrefix(a, ":"); ok {
			n, _ := strconv.Atoi(d)
			return n
		}
	}
	return 0
}

// EndSession ends s, on either driver (a container's processes are in the
// host's process table): it closes the client's connection, if one is open,
// then stops the session's X server. Stopping the X server is how xrdp's own
// idle and disconnected limits end a session (xorgxrdp exits); the session's
// sesman then stops the desktop and cleans up its display. Each process is
// signalled only while its pid, start time and command name are still the
// ones s was seen with: an xrdp connection process, an Xorg or Xvnc.
//
// It reports whether it ended the session (stopped its X server); a session
// whose X server is gone already, or is another process now, is not counted.
func EndSession(ctx context.Context, s Session, grace time.Duration) (bool, error) {
	_, closeErr := closeConn(ctx, s, grace)
	ended, err := endProcess(ctx, s.XPID, s.XStartTime, grace, XServers...)
	if err := errors.Join(closeErr, err); err != nil {
		return ended, fmt.Errorf("end %s's session on %s (display :%d): %w", s.User, s.Server, s.Display, err)
	}
	return ended, nil
}

// CloseConnection closes the client connection of an active session s: it
// ends the xrdp process serving it, while its pid, start time and command
// name are still the ones s was seen with. The session goes on, disconnected:
// its user can log in again to reconnect to it. It reports whether it closed
// the connection.
func CloseConnection(ctx context.Context, s Session, grace time.Duration) (bool, error) {
	closed, err := closeConn(ctx, s, grace)
	if err != nil {
		return closed, fmt.Errorf("close %s's connection to %s (display :%d): %w", s.User, s.Server, s.Display, err)
	}
	return closed, nil
}

// closeConn ends the xrdp process serving s, if s is active.
func closeConn(ctx context.Context, s Session, grace time.Duration) (bool, error) {
	if s.State != SessionActive || s.PID == s.XPID {
		return false, nil
	}
	return endProcess(ctx, s.PID, s.StartTime, grace, "xrdp")
}

// endProcess ends pid while it is the process a scan saw: that start time
// and one of comms.
func endProcess(ctx context.Context, pid int, start uint64, grace time.Duration, comms ...string) (bool, error) {
	return procfs.Terminate(ctx, procfs.Identity{PID: pid, StartTime: start, Comms: comms}, grace)
}
