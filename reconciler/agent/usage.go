package agent

import (
	"context"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// usage samples the CPU and memory of every server, as its driver counts them
// (drivers.UsageReporter), from what the pass read of the host. CPU is the
// change in CPU time since the previous sample of the same instance, so a
// first sample reads 0.
type usage struct {
	mu   sync.Mutex
	prev map[string]cpuSample
	now  map[string]serverUsage
}

type cpuSample struct {
	id  string
	cpu time.Duration
	at  time.Time
}

type serverUsage struct {
	cpuPercent float64
	rss        uint64
	// hasCPU: cpuPercent was measured (a first sample of an instance has
	// nothing to compare with).
	hasCPU bool
}

func newUsage() *usage {
	return &usage{prev: map[string]cpuSample{}, now: map[string]serverUsage{}}
}

// sample reads the figures of instances from every driver of ds that reports
// usage.
func (u *usage) sample(ctx context.Context, ds map[string]drivers.Driver, instances []drivers.Instance, host *drivers.Host) {
	at := time.Now()
	figures := map[string]drivers.Usage{}
	for _, d := range ds {
		if r, ok := d.(drivers.UsageReporter); ok {
			for name, fig := range r.Usage(ctx, instances, host) {
				figures[name] = fig
			}
		}
	}
	ids := make(map[string]string, len(instances))
	for _, in := range instances {
		ids[in.Name] = in.ID
	}
	next := make(map[string]serverUsage, len(figures))
	prev := make(map[string]cpuSample, len(figures))
	u.mu.Lock()
	defer u.mu.Unlock()
	for name, fig := range figures {
		su := serverUsage{rss: fig.MemoryBytes}
		// The same instance, read before: its CPU time only grows while its
		// processes live (one that exits takes its time with it: no figure).
		if last, ok := u.prev[name]; ok && last.id == ids[name] && at.After(last.at) && fig.CPU >= last.cpu {
			su.cpuPercent = 100 * (fig.CPU - last.cpu).Seconds() / at.Sub(last.at).Seconds()
			su.hasCPU = true
		}
		prev[name] = cpuSample{id: ids[name], cpu: fig.CPU, at: at}
		next[name] = su
	}
	u.prev, u.now = prev, next
}

// get returns a server's last figures, and whether its driver gave any.
func (u *usage) get(name string) (serverUsage, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.now[name]
	return s, ok
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
