package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// errCorrupt marks a record.json that exists but cannot be read as a record:
// truncated by a crash of the disk or the machine, or edited by hand.
var errCorrupt = errors.New("corrupt record")

// recoverRecord rebuilds server name's record from what runs, when its
// record.json is corrupt, so that lucid-rdp never starts a second listener
// beside one it lost track of. The processes are known by their command lines,
// which name the server's own folder (see Sessions), and among them the
// listener and the sesman by the listening sockets they hold (a connection
// process or a per-session sesman holds none). The corrupt file is kept as
// record.json.corrupt.
//
// What the record said of the spec (the config's hash, most settings) is lost:
// the rebuilt record carries the port and the sesman's port, display block and
// limit, so the next plan replaces the listener (which keeps sessions on this
// driver) and keeps the sesman.
func (d *Driver) recoverRecord(name string, why error) (*record, error) {
	d.recoverMu.Lock()
	defer d.recoverMu.Unlock()
	if r, err := d.readRecord(name); !errors.Is(err, errCorrupt) {
		return r, err // rebuilt meanwhile by another List
	}
	dir := d.dir(name)
	path := filepath.Join(dir, "record.json")
	rec := &record{Name: name, Config: drivers.Config{Driver: Name}}
	ini, _ := os.ReadFile(filepath.Join(dir, "sesman.ini"))
	rec.SesmanPort, rec.DisplayOffset, rec.Settings.MaxSessions = iniInt(ini, "ListenPort"), iniInt(ini, "X11DisplayOffset"), iniInt(ini, "MaxSessions")

	tab, err := socktab.ReadListening()
	if err != nil {
		return nil, err
	}
	listening := map[uint64]socktab.Socket{}
	for _, s := range tab.Listening {
		listening[s.Inode] = s
	}
	snap, err := procfs.Snapshot()
	if err != nil {
		return nil, err
	}
	procs := byConfig(snap)
	for _, p := range append(procs[filepath.Join(dir, "xrdp.ini")], procs[filepath.Join(dir, "sesman.ini")]...) {
		var sock *socktab.Socket // the listener and the main sesman listen; their children do not
		for _, ino := range procfs.SocketInodes(p.PID) {
			if s, ok := listening[ino]; ok {
				sock = &s
				break
			}
		}
		exe, err := procfs.Exe(p.PID)
		if sock == nil || err != nil {
			continue
		}
		id := procfs.Identity{PID: p.PID, StartTime: p.StartTime, Exe: exe}
		if p.Comm == "xrdp-sesman" {
			rec.Sesman = &id
			continue
		}
		rec.Identity = id
		rec.Config.Address, rec.Config.Port = sock.Local.String(), sock.LocalPort
		rec.StartedAt = procfs.StartedAt(p.StartTime)
	}
	// Only now is the corrupt file set aside: until the rebuilt record
	// replaces it (atomically), a failure leaves it where it was, so the
	// running processes are never left without a record.
	if rec.PID == 0 && rec.Sesman == nil {
		if err := os.Rename(path, path+".corrupt"); err != nil {
			return nil, err
		}
		d.Log.Warn("record.json is corrupt and nothing of the server runs; it starts afresh", "server", name, "error", why)
		return nil, os.ErrNotExist
	}
	corrupt, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Replace(path+".corrupt", corrupt, 0o600); err != nil { // for people to read
		return nil, err
	}
	if err := d.writeRecord(rec); err != nil {
		return nil, err
	}
	d.Log.Warn("record.json was corrupt; rebuilt it from the running processes", "server", name, "error", why,
		"listener_pid", rec.PID, "sesman_pid", sesmanPID(rec))
	return rec, nil
}

func sesmanPID(r *record) int {
	if r.Sesman == nil {
		return 0
	}
	return r.Sesman.PID
}

// iniInt returns the integer value of key in an ini file's lines (0 if none).
func iniInt(ini []byte, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(ini))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// recoveredWarning is what status says of a server whose record was rebuilt.
func recoveredWarning(why error) string {
	return fmt.Sprintf("its record.json was corrupt (%v) and was rebuilt from the running processes; the old file is kept as record.json.corrupt", why)
}
