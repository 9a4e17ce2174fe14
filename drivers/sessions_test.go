package drivers

import (
	"os"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Busy: a server needs a closer look when a sesman of it has children, or an
// xrdp process runs beside its listener; a drained server has no listener,
// so its one connection counts.
func TestBusy(t *testing.T) {
	snap, err := procfs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	childless := procfs.Stat{PID: 1 << 30}   // no such process: no children
	parent := procfs.Stat{PID: os.Getppid()} // this test is its child
	conn := func(pid int) procfs.Stat { return procfs.Stat{PID: pid, Comm: "xrdp"} }
	cases := []struct {
		name string
		sp   ServerProcs
		want bool
	}{
		{"idle: a sesman and its listener", ServerProcs{Sesmans: []procfs.Stat{childless}, Conns: []procfs.Stat{conn(1)}, ListenerRuns: true}, false},
		{"a connection beside the listener", ServerProcs{Sesmans: []procfs.Stat{childless}, Conns: []procfs.Stat{conn(1), conn(2)}, ListenerRuns: true}, true},
		{"drained, one connection left", ServerProcs{Sesmans: []procfs.Stat{childless}, Conns: []procfs.Stat{conn(2)}}, true},
		{"drained, nothing", ServerProcs{Sesmans: []procfs.Stat{childless}}, false},
		{"a sesman with children", ServerProcs{Sesmans: []procfs.Stat{parent}, Conns: []procfs.Stat{conn(1)}, ListenerRuns: true}, true},
	}
	for _, c := range cases {
		if got := c.sp.Busy(snap); got != c.want {
			t.Errorf("%s: busy %v; want %v", c.name, got, c.want)
		}
	}
}
