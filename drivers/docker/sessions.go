package docker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Sessions implements drivers.SessionLister from inside each running
// container, seen from the host: its processes are in the host's process
// table, under the container's first process (the pid the engine reports). In
// there, the xrdp-sesman processes are the container's sesman and one per
// session, and the xrdp processes its listener and one per connection.
// Connections and the Unix sockets that tie them to their X servers live in
// the container's network namespace, so both are read there, and user names
// come from the container's /etc/passwd. Connections that reach the container
// through NAT never show in the host's socket table: this is why docker
// sessions are not counted from it. A container in the host's network
// (network = "host") is read in the host's tables, once for all of them.
func (d *Driver) Sessions(ctx context.Context, instances []drivers.Instance, host *drivers.Host) drivers.SessionLook {
	var look drivers.SessionLook
	pruned := false
	for _, in := range instances {
		if in.Driver != Name || in.State != drivers.StateRunning {
			continue
		}
		snap, err := host.Procs()
		if err != nil {
			look.Miss(in.Name, "no process table: "+err.Error())
			continue
		}
		if !pruned {
			forgetGone(snap)
			pruned = true
		}
		first, why := d.firstPID(ctx, in.ID, snap)
		if first <= 0 {
			look.Miss(in.Name, why)
			continue
		}
		root := "/proc/" + strconv.Itoa(first)
		// An image that cannot drain keeps its listener when drained; it holds
		// a listening socket, so it is never taken for a leftover.
		sp := drivers.ServerProcs{Server: in.Name, RootPID: first, ListenerRuns: !in.Settings.Drain}
		for _, p := range snap.Tree(first) {
			switch p.Comm {
			case "xrdp-sesman":
				sp.Sesmans = append(sp.Sesmans, p)
			case "xrdp":
				// Once the listener is drained, its connections are the first
				// process's children (images/xrdp/entrypoint.sh).
				sp.Conns = append(sp.Conns, p)
			}
		}
		if !sp.Busy(snap) {
			continue
		}
		var tab *socktab.Table
		var peers map[uint64]uint64
		if in.Config.Network == spec.NetworkHost {
			// The host's tables, read once for every such container.
			var perr error
			tab, err = host.Sockets()
			if peers, perr = host.UnixPeers(); err == nil {
				err = perr
			}
			if err != nil {
				d.Log.Warn("sessions: the host's socket tables", "server", in.Name, "error", err)
			}
		} else {
			if tab, err = socktab.ReadFrom(root + "/net"); err != nil {
				d.Log.Warn("sessions: container socket table", "server", in.Name, "error", err)
			}
			if peers, err = socktab.UnixPeers(root + "/ns/net"); err != nil {
				d.Log.Warn("sessions: container Unix sockets; its sessions show as disconnected", "server", in.Name, "error", err)
			}
		}
		look.Add(drivers.FindSessions(sp, snap, tab, peers))
	}
	return look
}

// firstPID returns the host pid of the container's first process. It asks the
// engine once per container and remembers the answer while that process lives
// and is still in the container's cgroup (a pid can be reused), which is
// checked once per process table (Sessions, Refusals and Usage of a pass
// share one).
func (d *Driver) firstPID(ctx context.Context, id string, snap *procfs.Procs) (int, string) {
	if v, ok := firstPIDs.Load(id); ok {
		f := v.(first)
		if f.checked == snap {
			return f.pid, ""
		}
		if ofContainer(f.pid, id, snap) {
			firstPIDs.Store(id, first{f.pid, snap})
			return f.pid, ""
		}
	}
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil || res.Container.State.Pid <= 0 {
		return 0, "the engine did not say which process is the container's first"
	}
	pid := res.Container.State.Pid
	// The engine names the pid in the host's pid namespace. An agent in a
	// container of its own sees other pids (or none): it would find no
	// sessions where there are some, and replace servers under their users.
	if !ofContainer(pid, id, snap) {
		return 0, fmt.Sprintf("the container's first process (pid %d on the host) is not visible here: "+
			"an agent in a container needs --pid host to see sessions", pid)
	}
	firstPIDs.Store(id, first{pid, snap})
	return pid, ""
}

// ofContainer reports whether pid, in snap, is a process of container id (by
// its cgroup, which names the container).
func ofContainer(pid int, id string, snap *procfs.Procs) bool {
	if _, alive := snap.Get(pid); !alive {
		return false
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return err == nil && strings.Contains(string(cg), id)
}

// first is a container's first pid, and the process table it was last
// checked against.
type first struct {
	pid     int
	checked *procfs.Procs
}

// firstPIDs caches container id -> first. Container ids are unique on an
// engine, so one cache serves every driver; an entry is checked before use.
var firstPIDs sync.Map

// forgetGone drops the cached first pids that are no longer alive in snap:
// their containers stopped. (A look at some containers only must not empty
// the cache of the others.)
func forgetGone(snap *procfs.Procs) {
	firstPIDs.Range(func(id, v any) bool {
		if _, alive := snap.Get(v.(first).pid); !alive {
			firstPIDs.Delete(id)
		}
		return true
	})
}

// Refusals implements drivers.RefusalReporter from the sesman log inside
// each running container, opened from the host inside the container's root
// (procfs.OpenInRoot).
func (d *Driver) Refusals(ctx context.Context, instances []drivers.Instance, host *drivers.Host) []drivers.Refusal {
	var out []drivers.Refusal
	seen := map[string]bool{}
	defer d.tail.Forget(func(server string) bool { return seen[server] })
	for _, in := range instances {
		if in.Driver != Name || in.State != drivers.StateRunning {
			continue
		}
		seen[in.Name] = true
		snap, err := host.Procs()
		if err != nil {
			return nil
		}
		first, _ := d.firstPID(ctx, in.ID, snap)
		if first <= 0 {
			continue
		}
		f, err := procfs.OpenInRoot(first, "var/log/xrdp-sesman.log")
		if err != nil {
			continue
		}
		out = append(out, d.tail.Read(in.Name, f)...)
	}
	return out
}

// Usage implements drivers.UsageReporter from each running container's
// cgroup, as docker stats counts it; where that cannot be read, from the
// processes under the container's first one.
func (d *Driver) Usage(ctx context.Context, instances []drivers.Instance, host *drivers.Host) map[string]drivers.Usage {
	out := map[string]drivers.Usage{}
	for _, in := range instances {
		if in.Driver != Name || in.State != drivers.StateRunning {
			continue
		}
		snap, err := host.Procs()
		if err != nil {
			return out
		}
		first, _ := d.firstPID(ctx, in.ID, snap)
		if first <= 0 {
			continue
		}
		if cpu, mem, err := procfs.CgroupUsage(first); err == nil {
			out[in.Name] = drivers.Usage{CPU: cpu, MemoryBytes: mem}
		} else {
			out[in.Name] = drivers.TreeUsage(snap, first)
		}
	}
	return out
}
