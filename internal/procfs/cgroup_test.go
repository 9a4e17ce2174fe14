package procfs

import (
	"os"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

func TestParseCgroups(t *testing.T) {
	v1 := "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n"
	got := parseCgroups([]byte(v1))
	if got["memory"] != "/docker/abc" || got["cpuacct"] != "/docker/abc" || got["cpu"] != "/docker/abc" || got[""] != "/" {
		t.Errorf("v1: %v", got)
	}
	got = parseCgroups([]byte("0::/system.slice/docker-abc.scope\n"))
	if got[""] != "/system.slice/docker-abc.scope" || len(got) != 1 {
		t.Errorf("v2: %v", got)
	}
	if got := parseCgroups([]byte("3:memory:/../../etc\n")); len(got) != 0 {
		t.Errorf("a path that climbs out is taken: %v", got)
	}
}

// TestCgroupUsage reads this test's own cgroup: it has used some CPU and
// holds some memory.
func TestCgroupUsage(t *testing.T) {
	cpu, mem, err := CgroupUsage(os.Getpid())
	if err != nil {
		testenv.Missing(t, "no cgroup figures here: %v", err)
	}
	if cpu <= 0 || mem == 0 {
		t.Errorf("cpu %s, memory %d; want both above 0", cpu, mem)
	}
}
