package process

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// byConfig groups the xrdp and xrdp-sesman processes of snap by the config
// file their command line names (`--config FILE`, last): a server's
// processes name files in its own folder.
func byConfig(snap *procfs.Procs) map[string][]procfs.Stat {
	out := map[string][]procfs.Stat{}
	for _, p := range snap.All() {
		if p.Comm != "xrdp" && p.Comm != "xrdp-sesman" {
			continue
		}
		args, err := procfs.Cmdline(p.PID)
		if err != nil || len(args) < 2 || !slices.Contains(args, "--config") {
			continue
		}
		out[args[len(args)-1]] = append(out[args[len(args)-1]], p)
	}
	return out
}

// Sessions implements drivers.SessionLister. A server's processes are known by
// their command lines: every per-session sesman runs `xrdp-sesman --nodaemon
// --config STATE/servers/NAME/sesman.ini` and every connection process `xrdp
// --nodaemon --config STATE/servers/NAME/xrdp.ini`, also after their parents
// (the server's sesman and listener) are gone or replaced.
func (d *Driver) Sessions(ctx context.Context, instances []drivers.Instance, host *drivers.Host) drivers.SessionLook {
	var look drivers.SessionLook
	snap, err := host.Procs()
	if err != nil {
		for _, in := range instances {
			look.Miss(in.Name, "no process table: "+err.Error())
		}
		return look
	}
	var sps []drivers.ServerProcs
	for _, in := range instances {
		if in.Driver != Name {
			continue
		}
		sp := d.serverProcs(in, snap)
		if sp.Busy(snap) {
			sps = append(sps, sp)
		}
	}
	if len(sps) == 0 {
		return look
	}
	peers, err := host.UnixPeers()
	if err != nil {
		d.Log.Warn("sessions: no Unix socket peers; sessions show as disconnected", "error", err)
	}
	tab, err := host.Sockets()
	if err != nil {
		d.Log.Warn("sessions: no socket table; clients show empty", "error", err)
	}
	for _, sp := range sps {
		look.Add(drivers.FindSessions(sp, snap, tab, peers))
	}
	return look
}

// Refusals implements drivers.RefusalReporter from each server's own
// xrdp-sesman.log, in its folder.
func (d *Driver) Refusals(ctx context.Context, instances []drivers.Instance, host *drivers.Host) []drivers.Refusal {
	var out []drivers.Refusal
	seen := map[string]bool{}
	defer d.tail.Forget(func(server string) bool { return seen[server] })
	for _, in := range instances {
		if in.Driver != Name || !spec.ValidServerName(in.Name) {
			continue
		}
		seen[in.Name] = true
		f, err := os.OpenFile(filepath.Join(d.dir(in.Name), "xrdp-sesman.log"), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		out = append(out, d.tail.Read(in.Name, f)...)
	}
	return out
}

// Usage implements drivers.UsageReporter: a server uses what its sesmans, its
// listener and connections (xrdp processes of its xrdp.ini) and their
// descendants (the sessions and their desktops) use. The processes are found
// as Sessions finds them, so a drained listener's sessions still count.
func (d *Driver) Usage(ctx context.Context, instances []drivers.Instance, host *drivers.Host) map[string]drivers.Usage {
	snap, err := host.Procs()
	if err != nil {
		return nil
	}
	out := map[string]drivers.Usage{}
	for _, in := range instances {
		if in.Driver != Name {
			continue
		}
		sp := d.serverProcs(in, snap)
		var roots []int
		for _, p := range append(sp.Sesmans, sp.Conns...) {
			roots = append(roots, p.PID)
		}
		out[in.Name] = drivers.TreeUsage(snap, roots...)
	}
	return out
}

// serverProcs returns in's sesmans and xrdp processes in snap, known by the
// config files in their command lines.
func (d *Driver) serverProcs(in drivers.Instance, snap *procfs.Procs) drivers.ServerProcs {
	d.cfgMu.Lock()
	if d.cfgSnap != snap {
		d.cfgSnap, d.cfg = snap, byConfig(snap)
	}
	cfg := d.cfg
	d.cfgMu.Unlock()
	dir := d.dir(in.Name)
	return drivers.ServerProcs{Server: in.Name,
		Sesmans: cfg[filepath.Join(dir, "sesman.ini")], Conns: cfg[filepath.Join(dir, "xrdp.ini")],
		ListenerRuns: in.State == drivers.StateRunning && !in.Settings.Drain}
}
