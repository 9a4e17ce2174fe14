package drivers

import (
	"context"
	"os"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Usage is what one server's processes use: the CPU time they have consumed
// so far (the agent turns two readings into a percentage) and their memory.
type Usage struct {
	CPU         time.Duration
	MemoryBytes uint64
}

// UsageReporter is implemented by drivers that can say what their servers
// use, from what the pass read of the host.
type UsageReporter interface {
	Usage(ctx context.Context, instances []Instance, host *Host) map[string]Usage
}

// clockTick is one USER_HZ tick, the unit of CPU times in /proc: 1/100 s.
const clockTick = 10 * time.Millisecond

// TreeUsage adds up the CPU time and resident memory of the processes under
// roots (each root and its descendants, every process counted once).
func TreeUsage(snap *procfs.Procs, roots ...int) Usage {
	seen := map[int]bool{}
	var ticks, pages uint64
	for _, r := range roots {
		for _, p := range snap.Tree(r) {
			if seen[p.PID] {
				continue
			}
			seen[p.PID] = true
			ticks += p.CPUTicks
			pages += p.RSSPages
		}
	}
	return Usage{CPU: time.Duration(ticks) * clockTick, MemoryBytes: pages * uint64(os.Getpagesize())}
}
