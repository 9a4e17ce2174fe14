package agent

import (
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// usage samples CPU and memory of process servers: the listener and its
// descendants (the sessions it forked), from one /proc snapshot per pass. CPU is
// the change in CPU time since the previous sample, so a first sample reads 0.
type usage struct {
	mu   sync.Mutex
	prev map[string]cpuSample
	now  map[string]serverUsage
}

type cpuSample struct {
	pid   int
	ticks uint64
	at    time.Time
}

type serverUsage struct {
	cpuPercent float64
	rss        uint64
}

func newUsage() *usage {
	return &usage{prev: map[string]cpuSample{}, now: map[string]serverUsage{}}
}

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on Linux.
const clockTicks = 100

// sample reads the figures of every running process instance from the
// process table procs returns (read on first need).
func (u *usage) sample(instances map[string]drivers.Instance, procs func() (*procfs.Procs, error)) {
	var snap *procfs.Procs
	next := map[string]serverUsage{}
	prev := map[string]cpuSample{}
	at := time.Now()
	page := uint64(os.Getpagesize())
	for name, in := range instances {
		if in.Driver != "process" || in.State != drivers.StateRunning {
			continue
		}
		pid, err := strconv.Atoi(in.ID)
		if err != nil {
			continue
		}
		if snap == nil {
			if snap, err = procs(); err != nil {
				return
			}
		}
		var ticks, rss uint64
		for _, p := range snap.Tree(pid) {
			ticks += p.CPUTicks
			rss += p.RSSPages * page
		}
		su := serverUsage{rss: rss}
		u.mu.Lock()
		if last, ok := u.prev[name]; ok && last.pid == pid && at.After(last.at) && ticks >= last.ticks {
			su.cpuPercent = 100 * float64(ticks-last.ticks) / clockTicks / at.Sub(last.at).Seconds()
		}
		u.mu.Unlock()
		prev[name] = cpuSample{pid: pid, ticks: ticks, at: at}
		next[name] = su
	}
	u.mu.Lock()
	u.prev, u.now = prev, next
	u.mu.Unlock()
}

// of returns a server's last figures.
func (u *usage) of(name string) (cpuPercent float64, rss uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.now[name]
	return s.cpuPercent, s.rss
}

// hostUsage returns whole-host CPU use since the previous call, and memory use,
// both in percent.
func hostUsage() (cpuPercent, memPercent float64) {
	if c, err := cpu.Percent(0, false); err == nil && len(c) == 1 {
		cpuPercent = c[0]
	}
	if m, err := mem.VirtualMemory(); err == nil {
		memPercent = m.UsedPercent
	}
	return cpuPercent, memPercent
}
