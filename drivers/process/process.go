package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/xrdpconf"
	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
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
	// Log receives the driver's logs.
	Log hclog.Logger

	// pidFile is xrdp's compiled-in pid file; a variable for tests.
	pidFile string

	mu    sync.Mutex
	watch *exitWatch // set by Notify
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
	return &Driver{
		ServersDir: filepath.Join(stateDir, "servers"),
		Log:        log.Named(Name),
		pidFile:    filepath.Join(hostRunDir, "xrdp.pid"),
	}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// record is what the driver keeps per server in record.json.
type record struct {
	// Format is the record's format version.
	Format int    `json:"format"`
	Name   string `json:"name"`
	procfs.Identity
	Config    drivers.Config   `json:"config"`
	Hash      string           `json:"hash"`
	Settings  drivers.Settings `json:"settings"`
	StartedAt time.Time        `json:"started_at"`
}

const recordFormat = 1

func (d *Driver) dir(name string) string { return filepath.Join(d.ServersDir, name) }

func (d *Driver) readRecord(name string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(d.dir(name), "record.json"))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("process: record of %s: %w", name, err)
	}
	if r.Name != name {
		return nil, fmt.Errorf("process: record in %s names %q", d.dir(name), r.Name)
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
	case r.PID == 0:
		in.Detail = "not started"
	case r.Matches():
		in.State = drivers.StateRunning
	default:
		in.Detail = fmt.Sprintf("listener pid %d has exited", r.PID)
	}
	return in
}

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
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.Log.Warn("unreadable record", "server", e.Name(), "error", err)
			}
			continue
		}
		in := r.instance()
		if w := d.watching(); w != nil && in.State == drivers.StateRunning {
			w.add(r.Name, r.Identity)
		}
		out = append(out, in)
	}
	return out, nil
}

// xrdpPath finds the xrdp executable, resolved through symlinks as the kernel
// reports it in /proc/PID/exe.
func (d *Driver) xrdpPath() (string, error) {
	p := d.Xrdp
	if p == "" {
		var err error
		if p, err = exec.LookPath("xrdp"); err != nil {
			if _, serr := os.Stat("/usr/sbin/xrdp"); serr != nil {
				return "", errors.New("process: xrdp is not installed (Debian: apt-get install xrdp)")
			}
			p = "/usr/sbin/xrdp"
		}
	}
	return filepath.EvalSymlinks(p)
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, want drivers.Desired) (drivers.Instance, error) {
	c := want.Config
	xrdp, err := d.xrdpPath()
	if err != nil {
		return drivers.Instance{}, err
	}
	dir := d.dir(want.Name)
	if old, err := d.readRecord(want.Name); err == nil && old.Matches() {
		return drivers.Instance{}, fmt.Errorf("process: %s: already running as pid %d", want.Name, old.PID)
	}
	// The planner skips ports held by others, but one may have been taken since.
	// Checking first also keeps the RDP probe below from mistaking someone else's
	// server for ours.
	if tab, err := socktab.Read(); err == nil {
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
	if err := os.Chmod(dir, 0o700); err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %w", err)
	}
	logFile := filepath.Join(dir, "xrdp.log")
	ini := filepath.Join(dir, "xrdp.ini")
	if err := atomicfile.Write(ini, xrdpconf.XrdpINI(want.Name, xrdpconf.ListenURL(c.Address, c.Port), c, c.Certificate, c.Key, logFile), 0o644); err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: %w", want.Name, err)
	}
	out, err := os.OpenFile(filepath.Join(dir, "xrdp.out"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %w", err)
	}
	defer out.Close()

	argv := []string{xrdp, "--nodaemon", "--config", ini}
	attr := &syscall.SysProcAttr{Setsid: true}
	if os.Geteuid() == 0 {
		self, err := os.Executable()
		if err != nil {
			return drivers.Instance{}, fmt.Errorf("process: %w", err)
		}
		argv = append([]string{self, helperArg, runDir}, argv...)
		attr.Cloneflags = syscall.CLONE_NEWNS
	} else if _, err := os.Stat(d.pidFile); err == nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: %s exists (Debian's xrdp service is running, or left it), and xrdp 0.9 will not start beside it; "+
			"run lucid-rdp as root so each listener gets a private /run/xrdp, or stop the service (systemctl disable --now xrdp)", want.Name, d.pidFile)
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: dir, Stdout: out, Stderr: out, SysProcAttr: attr}
	if err := cmd.Start(); err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: start xrdp: %w", want.Name, err)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reap; the listener is in its own session and may outlive us
		close(done)
	}()
	st, err := procfs.StartTime(pid)
	if err != nil {
		return drivers.Instance{}, fmt.Errorf("process: %s: xrdp exited at once: %s", want.Name, tail(dir))
	}
	rec := &record{
		Name:      want.Name,
		Identity:  procfs.Identity{PID: pid, StartTime: st, Exe: xrdp},
		Config:    c,
		Hash:      c.Hash(),
		Settings:  want.Settings,
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	if err := d.writeRecord(rec); err != nil {
		_ = cmd.Process.Kill()
		return drivers.Instance{}, fmt.Errorf("process: %s: write record: %w", want.Name, err)
	}
	if err := waitUp(ctx, c.Address, c.Port, done); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx), want.Name, time.Second, false)
		return drivers.Instance{}, fmt.Errorf("process: %s: %w: %s", want.Name, err, tail(dir))
	}
	if w := d.watching(); w != nil {
		w.add(want.Name, rec.Identity)
	}
	d.Log.Debug("started", "server", want.Name, "pid", pid, "port", c.Port)
	return rec.instance(), nil
}

// waitUp probes until the listener answers RDP, the process exits, or time runs out.
func waitUp(ctx context.Context, address string, port int, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	delay := time.Millisecond
	for {
		err := rdpprobe.Probe(ctx, address, port)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("xrdp exited before it answered")
		case <-ctx.Done():
			return fmt.Errorf("no RDP answer on port %d within %s (%v)", port, StartTimeout, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// tail returns the last lines xrdp wrote, to say why it failed.
func tail(dir string) string {
	var lines []string
	for _, f := range []string{"xrdp.out", "xrdp.log"} {
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

// Stop implements drivers.Driver. It signals only a pid whose record still
// matches the live process.
func (d *Driver) Stop(ctx context.Context, name string, grace time.Duration, forget bool) error {
	r, err := d.readRecord(name)
	if errors.Is(err, os.ErrNotExist) {
		if forget {
			return os.RemoveAll(d.dir(name))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if w := d.watching(); w != nil {
		w.remove(name) // a stop on purpose is not news
	}
	if r.Matches() {
		if err := d.terminate(ctx, r, grace); err != nil {
			return fmt.Errorf("process: stop %s: %w", name, err)
		}
		d.Log.Debug("stopped", "server", name, "pid", r.PID)
	}
	if forget {
		return os.RemoveAll(d.dir(name))
	}
	return nil
}

func (d *Driver) terminate(ctx context.Context, r *record, grace time.Duration) error {
	if err := syscall.Kill(r.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(ctx, r, grace) {
		return nil
	}
	if !r.Matches() { // re-check right before the hard signal
		return nil
	}
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(ctx, r, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d survived SIGKILL", r.PID)
}

func waitGone(ctx context.Context, r *record, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for delay := 500 * time.Microsecond; ; delay = min(delay*2, 20*time.Millisecond) {
		if !r.Matches() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(delay)
	}
}

// Update implements drivers.Driver: settings live in the record only.
func (d *Driver) Update(ctx context.Context, want drivers.Desired) error {
	r, err := d.readRecord(want.Name)
	if err != nil {
		return fmt.Errorf("process: update %s: %w", want.Name, err)
	}
	r.Settings = want.Settings
	return d.writeRecord(r)
}

// CountSessions implements drivers.SessionCounter: established connections to
// each listener's port (also a drained listener's), less lucid-rdp's probes.
func (d *Driver) CountSessions(ctx context.Context, instances []drivers.Instance, tab *socktab.Table) map[string]int {
	return drivers.CountSessionSockets(instances, tab)
}

// ListSessions implements drivers.SessionLister.
func (d *Driver) ListSessions(ctx context.Context, instances []drivers.Instance, tab *socktab.Table) []drivers.Session {
	var out []drivers.Session
	var inodes []uint64
	for name, socks := range drivers.SessionSockets(instances, tab) {
		for _, s := range socks {
			out = append(out, drivers.Session{Server: name, Client: net.JoinHostPort(s.Remote.String(), strconv.Itoa(s.RemotePort))})
			inodes = append(inodes, s.Inode)
		}
	}
	holders := socktab.Holders(inodes)
	for i := range out {
		out[i].PID = holders[inodes[i]].PID
	}
	return out
}

// Drain implements drivers.Drainer: the listener stops; the sessions it forked
// are separate processes and go on.
func (d *Driver) Drain(ctx context.Context, name string) error {
	return d.Stop(ctx, name, 5*time.Second, false)
}
