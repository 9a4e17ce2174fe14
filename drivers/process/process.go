package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/drivers/xrdpconf"
	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Name is this driver's name in the spec.
const Name = "process"

// StartTimeout bounds how long Start waits for a new listener to answer RDP.
const StartTimeout = 10 * time.Second

// Driver runs xrdp listeners as host processes.
type Driver struct {
	// ServersDir holds one folder per server: state_dir/servers.
	ServersDir string
	// Xrdp is the xrdp executable; found on PATH (and /usr/sbin) when empty.
	Xrdp string
	// Sesman is the xrdp-sesman executable; found like Xrdp when empty.
	Sesman string
	// Log receives the driver's logs.
	Log hclog.Logger

	// pidFile is xrdp's compiled-in pid file; a variable for tests.
	pidFile string

	mu    sync.Mutex
	watch *exitWatch // set by Notify

	// slots is where sesman ports and display blocks come from (UseSlots);
	// made by New.
	slots *hostslots.Share

	// recoverMu makes one List at a time rebuild a corrupt record.
	recoverMu sync.Mutex

	tail drivers.LogTail // the servers' sesman logs, for refusals

	// cfgMu guards the last process table's xrdp and sesman processes by
	// config file (byConfig reads each one's command line): Sessions and
	// Usage look at the same table in a pass.
	cfgMu   sync.Mutex
	cfgSnap *procfs.Procs
	cfg     map[string][]procfs.Stat
}

// watching returns the exit watch, or nil when nobody called Notify.
func (d *Driver) watching() *exitWatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watch
}

// New returns a driver keeping its records under stateDir/servers.
func New(stateDir string, log hclog.Logger) *Driver {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	d := &Driver{
		ServersDir: filepath.Join(stateDir, "servers"),
		Log:        log.Named(Name),
		pidFile:    filepath.Join(hostRunDir, "xrdp.pid"),
	}
	d.slots = hostslots.NewShare(Name, d.holdings)
	return d
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// record is what the driver keeps per server in record.json.
type record struct {
	// Format is the record's format version.
	Format int    `json:"format"`
	Name   string `json:"name"`
	// Identity is the listener's.
	procfs.Identity
	// Sesman is the identity of the server's own xrdp-sesman; nil when the
	// server shares the host's (see SharedSesman) or was started by a lucid-rdp
	// that did not give servers their own.
	Sesman *procfs.Identity `json:"sesman,omitempty"`
	// SesmanPort is the loopback port of the server's sesman, allocated once and
	// kept for the server's life.
	SesmanPort int `json:"sesman_port,omitempty"`
	// DisplayOffset is the first X display of the server's block.
	DisplayOffset int `json:"display_offset,omitempty"`
	// SharedSesman is set when the server could not have a sesman of its own
	// (lucid-rdp was not root: no mount namespace), so logins go to the host's.
	SharedSesman bool             `json:"shared_sesman,omitempty"`
	Config       drivers.Config   `json:"config"`
	Hash         string           `json:"hash"`
	Settings     drivers.Settings `json:"settings"`
	StartedAt    time.Time        `json:"started_at"`
}

// recordFormat 2 added the server's own sesman.
const recordFormat = 2

func (d *Driver) dir(name string) string { return filepath.Join(d.ServersDir, name) }

// displays is the server's block of X displays: sesman uses display
// DisplayOffset up to DisplayOffset + MaxSessions.
func (r *record) displays() (first, last int) {
	return hostslots.Block(r.DisplayOffset, r.Settings.MaxSessions)
}

func (d *Driver) readRecord(name string) (*record, error) {
	if !spec.ValidServerName(name) {
		return nil, fmt.Errorf("process: %q is not a server name; lucid-rdp builds no path from it", name)
	}
	b, err := os.ReadFile(filepath.Join(d.dir(name), "record.json"))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("process: record of %s: %w: %w", name, errCorrupt, err)
	}
	if r.Name != name {
		return nil, fmt.Errorf("process: record in %s names %q: %w", d.dir(name), r.Name, errCorrupt)
	}
	// lucid-rdp signals only the programs it starts: a record naming any other
	// (planted, say, by someone who can write the state folder) is refused.
	if r.PID != 0 && filepath.Base(r.Exe) != "xrdp" {
		return nil, fmt.Errorf("process: record of %s names %s as its listener, which is not xrdp; lucid-rdp will not act on it", name, r.Exe)
	}
	if r.Sesman != nil && filepath.Base(r.Sesman.Exe) != "xrdp-sesman" {
		return nil, fmt.Errorf("process: record of %s names %s as its sesman, which is not xrdp-sesman; lucid-rdp will not act on it", name, r.Sesman.Exe)
	}
	return &r, nil
}

func (d *Driver) writeRecord(r *record) error {
	r.Format = recordFormat
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(d.dir(r.Name), "record.json"), append(b, '\n'), 0o600)
}

func (r *record) instance() drivers.Instance {
	in := drivers.Instance{
		Name:      r.Name,
		Driver:    Name,
		ID:        strconv.Itoa(r.PID),
		Config:    r.Config,
		Hash:      r.Hash,
		Settings:  r.Settings,
		StartedAt: r.StartedAt,
		State:     drivers.StateExited,
	}
	switch {
	case r.Settings.Drain && !r.Matches() && r.Sesman != nil && r.Sesman.Matches():
		in.State = drivers.StateRunning
		in.Detail = "drained: no listener, so no new sessions; live ones go on"
	case r.PID == 0:
		in.Detail = "not started"
	case !r.Matches():
		in.Detail = fmt.Sprintf("listener pid %d has exited", r.PID)
	case r.SharedSesman:
		in.State = drivers.StateRunning
		in.Warning = sharedSesmanWarning
	case r.Sesman == nil:
		in.Detail = "it has no xrdp-sesman of its own (started by an older lucid-rdp)"
	case !r.Sesman.Matches():
		in.Detail = fmt.Sprintf("its xrdp-sesman (pid %d) has exited", r.Sesman.PID)
	default:
		in.State = drivers.StateRunning
	}
	return in
}

// sharedSesmanWarning says what a server without its own sesman lacks, and
// what to do about it.
const sharedSesmanWarning = "no xrdp-sesman of its own (lucid-rdp is not root, so it cannot give the server a mount namespace): " +
	"logins go to the host's sesman on port 3350 with the host's limits, not this server's sessions block; " +
	"run lucid-rdp as root, or start the host's sesman (systemctl enable --now xrdp-sesman)"

// List implements drivers.Driver: one instance per record folder.
func (d *Driver) List(ctx context.Context) ([]drivers.Instance, error) {
	entries, err := os.ReadDir(d.ServersDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("process: %w", err)
	}
	var out []drivers.Instance
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := d.readRecord(e.Name())
		var why error
		if errors.Is(err, errCorrupt) {
			why = err
			r, err = d.recoverRecord(e.Name(), err)
		}
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.Log.Warn("unreadable record", "server", e.Name(), "error", err)
			}
			continue
		}
		in := r.instance()
		if why != nil {
			in.Warning = recoveredWarning(why)
		}
		if w := d.watching(); w != nil && in.State == drivers.StateRunning {
			d.watchRecord(w, r)
		}
		out = append(out, in)
	}
	return out, nil
}

// xrdpPath finds the xrdp executable, resolved through symlinks as the kernel
// reports it in /proc/PID/exe.
func (d *Driver) xrdpPath() (string, error) { return findProgram(d.Xrdp, "xrdp") }

// sesmanPath finds xrdp-sesman, resolved the same way.
func (d *Driver) sesmanPath() (string, error) { return findProgram(d.Sesman, "xrdp-sesman") }

// findProgram returns set, or name found on PATH or in /usr/sbin (not on every
// PATH), resolved through symlinks.
func findProgram(set, name string) (string, error) {
	p := set
	if p == "" {
		var err error
		if p, err = exec.LookPath(name); err != nil {
			if _, serr := os.Stat("/usr/sbin/" + name); serr != nil {
				return "", fmt.Errorf("process: %s is not installed (Debian: apt-get install xrdp)", name)
			}
			p = "/usr/sbin/" + name
		}
	}
	return filepath.EvalSymlinks(p)
}

// Start implements drivers.Driver. As root, the server gets its own
// xrdp-sesman and its own listener, each in a private mount namespace where
// the server's sesman.ini is /etc/xrdp/sesman.ini. A sesman of the server that
// is still alive (the listener alone died, or is being replaced) is kept, with
// its config rewritten and reloaded: stopping a sesman leaves its sessions
// running but unknown to the next one, so lucid-rdp never restarts one that
// works.
func (d *Driver) Start(ctx context.Context, want drivers.Desired) (drivers.Instance, error) {
	c := want.Config
	xrdp, err := d.xrdpPath()
	if err != nil {
		return drivers.Instance{}, err
	}
	dir := d.dir(want.Name)
	old, _ := d.readRecord(want.Name)
	if old != nil && old.Matches() {
		return drivers.Instance{}, fmt.Errorf("process: %s: already running as pid %d", want.Name, old.PID)
	}
	// The planner skips ports held by others, but one may have been taken since.
	// Checking first also keeps the RDP probe below from mistaking someone else's
	// server for ours.
	tab, err := socktab.ReadListening()
	if err == nil {
		if s, held := tab.ListenerOn(c.Address, c.Port); held {
			holder := "another program"
			if h, ok := socktab.Holders([]uint64{s.Inode})[s.Inode]; ok {
				holder = h.String()
			}
			return drivers.Instance{}, fmt.Errorf("process: %s: port %d on %s is held by %s, which lucid-rdp does not own", want.Name, c.Port, c.Address, holder)
		}
	}
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil { // sessions run as their users and read sesman.ini through the bind
		return drivers.Instance{}, fmt.Errorf("process: %w", err)
	}
	rec := &record{
		Name:      want.Name,
		Config:    c,
		Hash:      c.Hash(),
		Settings:  want.Settings,
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	root := os.Geteuid() == 0
	if !root {
		rec.SharedSesman = true
		if _, err := os.Stat(d.pidFile); err == nil {
			return drivers.Instance{}, fmt.Errorf("process: %s: %s exists (Debian's xrdp service is running, or left it), and xrdp 0.9 will not start beside it; "+
				"run lucid-rdp as root so each listener gets a private /run/xrdp, or stop the service (systemctl disable --now xrdp)", want.Name, d.pidFile)
		}
	}

	var sesmanDone <-chan struct{}
	if root {
		keep := old != nil && old.Sesman != nil && old.SesmanPort != 0 && old.Sesman.Matches()
		if keep {
			rec.Sesman = old.Sesman // the record must never lose a live process
		}
		if err := d.allocate(want.Name, rec, old, keep, tab); err != nil {
			return drivers.Instance{}, err
		}
		if err := d.writeSesmanINI(rec); err != nil {
			return drivers.Instance{}, err
		}
		if keep {
			d.reloadSesman(rec) // cheap, and right even if an earlier reload was lost
		} else if sesmanDone, err = d.startSesman(rec); err != nil {
			return drivers.Instance{}, err
		}
	}

	if want.Settings.Drain && rec.Sesman != nil {
		// Drained from the start: the sesman alone, for the sessions it
		// already has, and no listener to take new ones.
		if err := d.writeRecord(rec); err != nil {
			return drivers.Instance{}, fmt.Errorf("process: %s: write record: %w", want.Name, err)
		}
		if err := waitListening(ctx, rec.SesmanPort, sesmanDone); err != nil {
			return drivers.Instance{}, fmt.Errorf("process: %s: xrdp-sesman: %w: %s", want.Name, err, tail(dir, "sesman.out", "xrdp-sesman.log"))
		}
		if w := d.watching(); w != nil {
			d.watchRecord(w, rec)
		}
		return rec.instance(), nil
	}

	logFile := filepath.Join(dir, "xrdp.log")
	ini := filepath.Join(dir, "xrdp.ini")
	if err := atomicfile.Replace(ini, xrdpconf.XrdpINI(want.Name, xrdpconf.ListenURL(c.Address, c.Port), c, c.Certificate, c.Key, logFile), 0o644); err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: %w", want.Name, err)
	}
	id, done, release, err := d.spawn(rec, xrdp, "xrdp.out", "xrdp.pid", xrdp, "--nodaemon", "--config", ini)
	if err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: start xrdp: %w", want.Name, err)
	}
	rec.Identity = id
	if err := d.writeRecord(rec); err != nil {
		release(false)
		if rec.SharedSesman { // no gate: it already runs
			_, _ = procfs.Signal(id, unix.SIGKILL)
		}
		return drivers.Instance{}, fmt.Errorf("process: %s: write record: %w", want.Name, err)
	}
	release(true)
	// Both start side by side; the sesman, started first, is mostly up by the
	// time the listener answers.
	if err := waitUp(ctx, c.Address, c.Port, done); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx), want.Name, time.Second, false)
		return drivers.Instance{}, fmt.Errorf("process: %s: %w: %s", want.Name, err, tail(dir, "xrdp.out", "xrdp.log"))
	}
	if rec.Sesman != nil {
		if err := waitListening(ctx, rec.SesmanPort, sesmanDone); err != nil {
			_ = d.Stop(context.WithoutCancel(ctx), want.Name, time.Second, false)
			return drivers.Instance{}, fmt.Errorf("process: %s: xrdp-sesman: %w: %s", want.Name, err, tail(dir, "sesman.out", "xrdp-sesman.log"))
		}
	}
	if w := d.watching(); w != nil {
		d.watchRecord(w, rec)
	}
	d.Log.Debug("started", "server", want.Name, "pid", id.PID, "port", c.Port, "sesman_port", rec.SesmanPort, "display_offset", rec.DisplayOffset)
	return rec.instance(), nil
}

// spawn starts argv as part of server rec: in its own session, so it outlives
// lucid-rdp, and as root in a private mount namespace (see runHelper). exe is
// the executable the kernel will report for it. done is closed when it exits.
//
// As root the process waits at a gate until release is called: call it once
// the record names the process, so that a lucid-rdp killed in between leaves
// nothing untracked (the helper sees the gate close and exits instead of
// starting xrdp). release without a record (ok false) only closes the gate.
func (d *Driver) spawn(rec *record, exe, outName, pidFile string, argv ...string) (id procfs.Identity, done <-chan struct{}, release func(ok bool), err error) {
	dir := d.dir(rec.Name)
	out, err := os.OpenFile(filepath.Join(dir, outName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return id, nil, nil, err
	}
	defer out.Close()
	attr := &syscall.SysProcAttr{Setsid: true}
	release = func(bool) {}
	var gate *os.File
	var extra []*os.File
	if !rec.SharedSesman {
		self, err := os.Executable()
		if err != nil {
			return id, nil, nil, err
		}
		r, w, err := os.Pipe()
		if err != nil {
			return id, nil, nil, err
		}
		defer r.Close()
		gate, extra = w, []*os.File{r} // fd 3 in the helper
		release = func(ok bool) {
			if ok {
				_, _ = gate.Write([]byte{1})
			}
			gate.Close()
		}
		argv = append([]string{self, helperArg, filepath.Join(dir, "run"), filepath.Join(dir, "sesman.ini"), pidFile}, argv...)
		attr.Cloneflags = syscall.CLONE_NEWNS
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: dir, Stdout: out, Stderr: out, ExtraFiles: extra, SysProcAttr: attr}
	if err := cmd.Start(); err != nil {
		release(false)
		return id, nil, nil, err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reap; the process is in its own session and may outlive us
		close(exited)
	}()
	st, err := procfs.StartTime(pid)
	if err != nil {
		release(false)
		return id, nil, nil, fmt.Errorf("%s exited at once: %s", filepath.Base(exe), tail(dir, outName))
	}
	return procfs.Identity{PID: pid, StartTime: st, Exe: exe}, exited, release, nil
}

// startSesman starts the server's own xrdp-sesman on rec's port and display
// block, and records it before letting it run.
func (d *Driver) startSesman(rec *record) (<-chan struct{}, error) {
	sesman, err := d.sesmanPath()
	if err != nil {
		return nil, err
	}
	ini := filepath.Join(d.dir(rec.Name), "sesman.ini")
	id, done, release, err := d.spawn(rec, sesman, "sesman.out", "xrdp-sesman.pid", sesman, "--nodaemon", "--config", ini)
	if err != nil {
		return nil, fmt.Errorf("process: %s: start xrdp-sesman: %w", rec.Name, err)
	}
	rec.Sesman = &id
	if err := d.writeRecord(rec); err != nil {
		release(false)
		rec.Sesman = nil
		return nil, fmt.Errorf("process: %s: write record: %w", rec.Name, err)
	}
	release(true)
	return done, nil
}

// sesmanINI renders rec's sesman.ini.
func (d *Driver) sesmanINI(rec *record) []byte {
	return xrdpconf.Sesman{
		ListenPort:          rec.SesmanPort,
		DisplayOffset:       rec.DisplayOffset,
		MaxSessions:         rec.Settings.MaxSessions,
		DisconnectedTimeout: time.Duration(rec.Config.DisconnectedTimeout),
		LogFile:             filepath.Join(d.dir(rec.Name), "xrdp-sesman.log"),
	}.INI(rec.Name)
}

// writeSesmanINI writes rec's sesman.ini, after clearing what crashed X
// servers left in its display block, which sesman would take as in use.
func (d *Driver) writeSesmanINI(rec *record) error {
	d.clearStaleDisplays(rec.displays())
	if err := atomicfile.Replace(filepath.Join(d.dir(rec.Name), "sesman.ini"), d.sesmanINI(rec), 0o644); err != nil {
		return fmt.Errorf("process: %s: %w", rec.Name, err)
	}
	return nil
}

// reloadSesman asks the server's sesman to read its config again (SIGHUP):
// limits change for the next login, and live sessions go on.
func (d *Driver) reloadSesman(rec *record) {
	if rec.Sesman == nil {
		return
	}
	if sent, _ := procfs.Signal(*rec.Sesman, unix.SIGHUP); sent {
		d.Log.Debug("sesman reloaded", "server", rec.Name, "pid", rec.Sesman.PID)
	}
}

// waitListening waits until something listens on loopback port (sesman, which
// binds ::1 or 127.0.0.1 as the host allows), the process exits, or time runs
// out. It reads the socket table and never dials: a dial to a port nobody
// listens on yet can connect to itself.
func waitListening(ctx context.Context, port int, done <-chan struct{}) error {
	return poll(ctx, done, "it exited before it listened", func() error {
		if tab, err := socktab.ReadListening(); err == nil {
			for _, addr := range []string{"127.0.0.1", "::1"} {
				if _, ok := tab.ListenerOn(addr, port); ok {
					return nil
				}
			}
		}
		return fmt.Errorf("nothing listens on port %d", port)
	})
}

// waitUp probes until the listener answers RDP, the process exits, or time runs out.
func waitUp(ctx context.Context, address string, port int, done <-chan struct{}) error {
	return poll(ctx, done, "xrdp exited before it answered", func() error {
		if err := rdpprobe.Probe(ctx, address, port); err != nil {
			return fmt.Errorf("no RDP answer on port %d (%v)", port, err)
		}
		return nil
	})
}

// poll calls check, backing off from 1 ms to 10 ms, until it succeeds, done
// closes (the process exited: gone is the error), or StartTimeout passes.
func poll(ctx context.Context, done <-chan struct{}, gone string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(delay*2, 10*time.Millisecond) {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New(gone)
		case <-ctx.Done():
			return fmt.Errorf("%w within %s", err, StartTimeout)
		case <-time.After(delay):
		}
	}
}

// tail returns the last lines xrdp or sesman wrote in files, to say why it failed.
func tail(dir string, files ...string) string {
	var lines []string
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		for _, l := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return "xrdp printed nothing"
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "xrdp said: " + strings.Join(lines, " | ")
}

// Stop implements drivers.Driver. Without forget it stops the listener only:
// the server's sesman goes on looking after the live sessions (a drain, or the
// first half of a replace, whose start keeps it). With forget it stops the
// sesman too and drops the record; sessions still running then go on without
// a sesman. It signals only processes whose identity still matches the record.
func (d *Driver) Stop(ctx context.Context, name string, grace time.Duration, forget bool) error {
	r, err := d.readRecord(name) // refuses a name that is no server name
	if errors.Is(err, os.ErrNotExist) {
		if forget {
			d.release(name)
			return os.RemoveAll(d.dir(name))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if w := d.watching(); w != nil {
		if forget {
			w.remove(name) // a stop on purpose is not news
		} else {
			w.removeRole(name, roleListener)
		}
	}
	if r.Matches() {
		if _, err := procfs.Terminate(ctx, r.Identity, grace); err != nil {
			return fmt.Errorf("process: stop %s: %w", name, err)
		}
		d.Log.Debug("stopped", "server", name, "pid", r.PID)
	}
	if !forget {
		return nil
	}
	defer d.release(name)
	if r.Sesman != nil && r.Sesman.Matches() {
		if _, err := procfs.Terminate(ctx, *r.Sesman, grace); err != nil {
			return fmt.Errorf("process: stop %s: xrdp-sesman: %w", name, err)
		}
		d.Log.Debug("stopped sesman", "server", name, "pid", r.Sesman.PID)
	}
	return os.RemoveAll(d.dir(name))
}

// Update implements drivers.Driver: the record takes the new settings, and the
// server's sesman, whose sesman.ini carries sessions.max, reloads it when
// that changed (the agent enforces idle_timeout itself). A larger max may need a new display block.
//
// drain = true stops the listener (its connections, the live sessions, go on)
// and the record says so, so the server stays up without one; drain = false
// starts a listener again beside the sesman that kept running.
func (d *Driver) Update(ctx context.Context, want drivers.Desired) error {
	r, err := d.readRecord(want.Name)
	if err != nil {
		return fmt.Errorf("process: update %s: %w", want.Name, err)
	}
	if !want.Settings.Drain && r.Settings.Drain {
		if _, err := d.Start(ctx, want); err != nil { // keeps the sesman, rewrites the record
			return fmt.Errorf("process: undrain %s: %w", want.Name, err)
		}
		return nil
	}
	drain := want.Settings.Drain && !r.Settings.Drain
	// Only sessions.max is sesman's; the rest is the record's.
	sesman := want.Settings.MaxSessions != r.Settings.MaxSessions
	old := *r // its display block, with the max it was given for
	r.Settings = want.Settings
	if !sesman || r.Sesman == nil || r.SharedSesman {
		if err := d.writeRecord(r); err != nil || !drain {
			return err
		}
		return d.Drain(ctx, want.Name)
	}
	// A larger max may need another display block.
	if err := d.allocate(want.Name, r, &old, true, nil); err != nil {
		return err
	}
	// sesman first, the record last: a record that says "updated" before the
	// sesman has the new limits would never be updated again.
	if err := d.writeSesmanINI(r); err != nil {
		return err
	}
	d.reloadSesman(r)
	if err := d.writeRecord(r); err != nil {
		return fmt.Errorf("process: update %s: %w", want.Name, err)
	}
	if drain { // recorded first: a drained server without a listener is not down
		return d.Drain(ctx, want.Name)
	}
	return nil
}

// KeepsSessionsOnReplace implements drivers.SessionKeeper: a replace stops and
// starts the listener only; the sessions and their sesman go on.
func (d *Driver) KeepsSessionsOnReplace() bool { return true }

// Drain implements drivers.Drainer: the listener stops; the sessions it forked
// are separate processes and go on, looked after by the server's sesman. The
// record says so first: a drained server without a listener is not down, and
// is not started again until an update undrains it.
func (d *Driver) Drain(ctx context.Context, name string) error {
	if r, err := d.readRecord(name); err == nil && !r.Settings.Drain {
		r.Settings.Drain = true
		if err := d.writeRecord(r); err != nil {
			return fmt.Errorf("process: drain %s: %w", name, err)
		}
	}
	return d.Stop(ctx, name, 5*time.Second, false)
}

// watchRecord watches the listener and the sesman of rec for exits.
func (d *Driver) watchRecord(w *exitWatch, rec *record) {
	w.add(rec.Name, roleListener, rec.Identity)
	if rec.Sesman != nil {
		w.add(rec.Name, roleSesman, *rec.Sesman)
	}
}
