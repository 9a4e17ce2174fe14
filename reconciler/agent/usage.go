package agent

import (
	"strconv"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// usage samples CPU and memory of process servers: the listener and its
// children (the sessions it forked). CPU is the change in CPU time since the
// previous sample, so the first sample of a server reads 0.
type usage struct {
	mu   sync.Mutex
	prev map[string]cpuSample
	now  map[string]serverUsage
}

type cpuSample struct {
	pid     int32
	seconds float64
	at      time.Time
}

type serverUsage struct {
	cpuPercent float64
	rss        uint64
}

func newUsage() *usage {
	return &usage{prev: map[string]cpuSample{}, now: map[string]serverUsage{}}
}

// sample reads the figures of every running process instance.
func (u *usage) sample(instances map[string]drivers.Instance) {
	next := map[string]serverUsage{}
	prev := map[string]cpuSample{}
	at := time.Now()
	for name, in := range instances {
		if in.Driver != "process" || in.State != drivers.StateRunning {
			continue
		}
		pid, err := strconv.Atoi(in.ID)
		if err != nil {
			continue
		}
		procs := []*process.Process{}
		if p, err := process.NewProcess(int32(pid)); err == nil {
			procs = append(procs, p)
			if kids, err := p.Children(); err == nil {
				procs = append(procs, kids...)
			}
		}
		var secs float64
		var rss uint64
		for _, p := range procs {
			if t, err := p.Times(); err == nil {
				secs += t.User + t.System
			}
			if m, err := p.MemoryInfo(); err == nil {
				rss += m.RSS
			}
		}
		su := serverUsage{rss: rss}
		u.mu.Lock()
		if last, ok := u.prev[name]; ok && last.pid == int32(pid) && at.After(last.at) && secs >= last.seconds {
			su.cpuPercent = 100 * (secs - last.seconds) / at.Sub(last.at).Seconds()
		}
		u.mu.Unlock()
		prev[name] = cpuSample{pid: int32(pid), seconds: secs, at: at}
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
