// Package procfs reads the few facts lucid-rdp needs about a process from /proc:
// its start time and executable, which together with the pid tell a process
// lucid-rdp started from another that was later given the same pid.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoProcess reports that no process has the pid.
var ErrNoProcess = errors.New("procfs: no such process")

// readProc reads /proc/PID/name; a process that is gone is ErrNoProcess.
func readProc(pid int, name string) ([]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, syscall.ESRCH) {
			return nil, ErrNoProcess
		}
		return nil, fmt.Errorf("procfs: %w", err)
	}
	return b, nil
}

// StartTime returns the process's start time in clock ticks since boot (field 22
// of /proc/PID/stat). It does not change across exec.
func StartTime(pid int) (uint64, error) {
	_, st, err := commAndStart(pid)
	return st, err
}

// commAndStart reads the command name and start time of pid from one read of
// /proc/PID/stat.
func commAndStart(pid int) (string, uint64, error) {
	b, err := readProc(pid, "stat")
	if err != nil {
		return "", 0, err
	}
	comm, st, err := parseCommAndStart(b)
	if errors.Is(err, errMalformedStat) || errors.Is(err, errShortStat) {
		return "", 0, fmt.Errorf("procfs: %w for pid %d", err, pid)
	}
	return comm, st, err
}

var (
	errMalformedStat = errors.New("malformed stat")
	errShortStat     = errors.New("short stat")
)

// parseCommAndStart reads the command name and start time from the text of
// /proc/PID/stat; a zombie's, or a dead process's, is ErrNoProcess.
func parseCommAndStart(b []byte) (string, uint64, error) {
	comm, named, f, ok := splitStat(b)
	if !ok || !named {
		return "", 0, errMalformedStat
	}
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return "", 0, errShortStat
	}
	if string(f[0]) == "Z" || string(f[0]) == "X" {
		return "", 0, ErrNoProcess // a zombie has no listener left
	}
	st, err := strconv.ParseUint(string(f[19]), 10, 64)
	return comm, st, err
}

// splitStat splits a /proc/PID/stat line into the command name (field 2),
// which is in parentheses and may hold spaces and parentheses itself, and
// the fields after the last ')', from field 3 (state) on. named is false
// when no '(' comes before that ')'; ok is false when there is no ')'.
func splitStat(b []byte) (comm string, named bool, fields [][]byte, ok bool) {
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return "", false, nil, false
	}
	if i := bytes.IndexByte(b, '('); i >= 0 && i < j {
		comm, named = string(b[i+1:j]), true
	}
	return comm, named, bytes.Fields(b[j+1:]), true
}

// Exe returns the path of the process's executable.
func Exe(pid int) (string, error) {
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		if os.IsNotExist(err) {
			return "", ErrNoProcess
		}
		return "", fmt.Errorf("procfs: %w", err)
	}
	// A package upgrade replaces the file under a running program; the kernel
	// then shows its old path with " (deleted)". It is still that program.
	return strings.TrimSuffix(p, " (deleted)"), nil
}

// Identity is what makes a process the one lucid-rdp started, or the one a
// look saw: its pid and start time, and its executable or command name.
type Identity struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// Exe is the process's executable; "" when Comms names it instead.
	Exe string `json:"exe"`
	// Comms, when set, are the command names the process may have (that of a
	// process lucid-rdp did not start, seen in a snapshot: an xrdp connection
	// process, an X server).
	Comms []string `json:"-"`
}

// Matches reports whether the live process with id.PID is still the one id
// describes: same start time, and same executable or one of its command
// names. An identity with neither matches nothing.
func (id Identity) Matches() bool {
	if id.PID <= 0 || (id.Exe == "" && len(id.Comms) == 0) {
		return false
	}
	comm, st, err := commAndStart(id.PID)
	if err != nil || st != id.StartTime {
		return false
	}
	if len(id.Comms) > 0 && !slices.Contains(id.Comms, comm) {
		return false
	}
	if id.Exe == "" {
		return true
	}
	exe, err := Exe(id.PID)
	return err == nil && exe == id.Exe
}

// Stat is what Snapshot reads of one process.
type Stat struct {
	PID, PPID int
	// Comm is the command name the kernel keeps (at most 15 bytes).
	Comm string
	// StartTime is the start time in clock ticks since boot, as StartTime reads it.
	StartTime uint64
	// CPUTicks is user + system time in clock ticks (USER_HZ, 100 on Linux),
	// and that of its children that have exited and been waited for: so
	// that a tree's total does not drop when a process in it exits.
	CPUTicks uint64
	// RSSPages is the resident set in pages.
	RSSPages uint64
}

// Procs is a snapshot of every process, indexed by pid and by parent.
type Procs struct {
	byPID map[int]Stat
	kids  map[int][]int
}

// Snapshot reads /proc/*/stat once. One snapshot serves a whole pass:
// per-process lookups that each walk /proc cost a full scan per server.
func Snapshot() (*Procs, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	out := &Procs{byPID: make(map[int]Stat, len(ents)), kids: map[int][]int{}}
	buf := make([]byte, 0, 1024)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		buf = buf[:cap(buf)]
		n, _ := f.Read(buf)
		f.Close()
		s, ok := parseStat(pid, buf[:n])
		if !ok {
			continue
		}
		out.byPID[pid] = s
		out.kids[s.PPID] = append(out.kids[s.PPID], pid)
	}
	return out, nil
}

// parseStat reads what Snapshot keeps of process pid from the text of its
// /proc/PID/stat. It reports false for a zombie (which holds nothing any
// more), a dead process, and a line too short to read.
func parseStat(pid int, b []byte) (Stat, bool) {
	comm, _, fs, ok := splitStat(b)
	// fs[0] is field 3; ppid is field 4, utime 14, stime 15, start 22, rss 24.
	if !ok || len(fs) < 22 || string(fs[0]) == "Z" || string(fs[0]) == "X" {
		return Stat{}, false
	}
	ppid, _ := strconv.Atoi(string(fs[1]))
	ut, _ := strconv.ParseUint(string(fs[11]), 10, 64)
	st, _ := strconv.ParseUint(string(fs[12]), 10, 64)
	cut, _ := strconv.ParseUint(string(fs[13]), 10, 64)
	cst, _ := strconv.ParseUint(string(fs[14]), 10, 64)
	start, _ := strconv.ParseUint(string(fs[19]), 10, 64)
	rss, _ := strconv.ParseUint(string(fs[21]), 10, 64)
	return Stat{PID: pid, PPID: ppid, Comm: comm, StartTime: start, CPUTicks: ut + st + cut + cst, RSSPages: rss}, true
}

// All returns every process of the snapshot, in no particular order.
func (p *Procs) All() []Stat {
	out := make([]Stat, 0, len(p.byPID))
	for _, s := range p.byPID {
		out = append(out, s)
	}
	return out
}

// Children returns the direct children of pid.
func (p *Procs) Children(pid int) []Stat {
	out := make([]Stat, 0, len(p.kids[pid]))
	for _, k := range p.kids[pid] {
		if s, ok := p.byPID[k]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Get returns the process with pid, if it was there.
func (p *Procs) Get(pid int) (Stat, bool) {
	s, ok := p.byPID[pid]
	return s, ok
}

// Tree returns pid and all its descendants.
func (p *Procs) Tree(pid int) []Stat {
	var out []Stat
	var walk func(int)
	walk = func(q int) {
		s, ok := p.byPID[q]
		if !ok {
			return
		}
		out = append(out, s)
		for _, k := range p.kids[q] {
			walk(k)
		}
	}
	walk(pid)
	return out
}

// Cmdline returns the process's arguments.
func Cmdline(pid int) ([]string, error) {
	b, err := readProc(pid, "cmdline")
	if err != nil {
		return nil, err
	}
	return parseCmdline(b), nil
}

// parseCmdline splits the text of /proc/PID/cmdline: arguments, each ended
// by a NUL.
func parseCmdline(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// UID returns the real user id the process runs as.
func UID(pid int) (int, error) {
	b, err := readProc(pid, "status")
	if err != nil {
		return 0, err
	}
	uid, err := parseUID(b)
	if errors.Is(err, errNoUID) {
		return 0, fmt.Errorf("procfs: %w for pid %d", err, pid)
	}
	return uid, err
}

var errNoUID = errors.New("no Uid line")

// parseUID reads the real user id from the text of /proc/PID/status: the
// first field of its "Uid:" line.
func parseUID(status []byte) (int, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, errNoUID
}

// Comm returns the process's command name as the kernel keeps it.
func Comm(pid int) (string, error) {
	b, err := readProc(pid, "comm")
	return strings.TrimSpace(string(b)), err
}

// SocketInodes returns the inodes of the sockets the process holds open.
func SocketInodes(pid int) []uint64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []uint64
	for _, fd := range fds {
		link, err := os.Readlink(dir + "/" + fd.Name())
		if err != nil {
			continue
		}
		if ino, ok := socketInode(link); ok {
			out = append(out, ino)
		}
	}
	return out
}

// socketInode reads the inode of a socket from what its descriptor's link
// in /proc/PID/fd says: "socket:[INODE]".
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	return ino, err == nil
}

// UserNames maps uids to account names as the passwd file of the process
// rootPID's root says (0: the host's; a container's first process: the
// container's). It reads that file once, inside that root (see OpenInRoot).
func UserNames(rootPID int) map[int]string {
	names := map[int]string{}
	var f *os.File
	var err error
	if rootPID == 0 {
		f, err = os.OpenFile("/etc/passwd", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	} else {
		f, err = OpenInRoot(rootPID, "etc/passwd")
	}
	if err != nil {
		return names
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return names
	}
	return parsePasswd(b)
}

// parsePasswd maps uids to account names from the text of a passwd file
// ("name:password:uid:..." lines); the first line of a uid names it.
func parsePasswd(b []byte) map[int]string {
	names := map[int]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 {
			if uid, err := strconv.Atoi(f[2]); err == nil {
				if _, dup := names[uid]; !dup {
					names[uid] = f[0]
				}
			}
		}
	}
	return names
}

// OpenInRoot opens path, relative to the root of process rootPID (a
// container's first process), for reading: symlinks in there resolve inside
// that root, never to the host's files, and it must be a regular file (a FIFO
// or device there could block or never end a read).
func OpenInRoot(rootPID int, path string) (*os.File, error) {
	fd, err := OpenatInRoot(rootPID, path, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("procfs: %s in the root of pid %d is not a regular file", path, rootPID)
	}
	return f, nil
}

// OpenatInRoot opens path with flags (O_CLOEXEC is added) inside the root
// of process rootPID and returns the descriptor: symlinks, and a leading
// "/", resolve inside that root, never to the host's files.
func OpenatInRoot(rootPID int, path string, flags int) (int, error) {
	root, err := unix.Open("/proc/"+strconv.Itoa(rootPID)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	return unix.Openat2(root, path, &unix.OpenHow{
		Flags: uint64(flags) | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
}

var (
	bootOnce sync.Once
	bootTime time.Time
)

// StartedAt turns a start time in clock ticks since boot into wall-clock time.
func StartedAt(ticks uint64) time.Time {
	bootOnce.Do(func() {
		if b, err := os.ReadFile("/proc/stat"); err == nil {
			bootTime = parseBootTime(b)
		}
	})
	if bootTime.IsZero() {
		return time.Time{}
	}
	return bootTime.Add(time.Duration(ticks) * time.Second / 100).Truncate(10 * time.Millisecond) // USER_HZ is 100
}

// parseBootTime reads when the host booted from the text of /proc/stat: its
// "btime SECONDS" line (the last, should there be more). Zero when none reads.
func parseBootTime(b []byte) time.Time {
	var t time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			if secs, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				t = time.Unix(secs, 0).UTC()
			}
		}
	}
	return t
}
