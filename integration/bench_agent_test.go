package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// usageOf returns a process's CPU time in clock ticks and its resident memory.
func usageOf(b *testing.B, pid int) (ticks uint64, rss int64) {
	snap, err := procfs.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	st, ok := snap.Get(pid)
	if !ok {
		b.Fatalf("pid %d is gone", pid)
	}
	return st.CPUTicks, int64(st.RSSPages) * int64(os.Getpagesize())
}

// pidOf returns the pid in server name's process record, or 0.
func pidOf(b *testing.B, stateDir, name string) int {
	raw, err := os.ReadFile(filepath.Join(stateDir, "servers", name, "record.json"))
	if err != nil {
		return 0
	}
	var r record
	if json.Unmarshal(raw, &r) != nil {
		return 0
	}
	return r.PID
}

// BenchmarkAgent measures the agent on 50 servers: kill -9 to a new listener
// answering (against supervisord's autorestart in the same run), one server
// changed in the spec to converged, and idle CPU and memory. `make bench`.
func BenchmarkAgent(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const n = 50
	dir := b.TempDir()
	state := filepath.Join(dir, "state")
	specFile := filepath.Join(dir, "lucid-rdp.hcl")
	api := 23390
	write := func(editPort int) {
		src := fmt.Sprintf("agent {\n  state_dir = %q\n  listen    = \"127.0.0.1:%d\"\n}\n\nport_range \"bench\" {\n  from = 23200\n  to   = 23299\n}\n\nserver \"desk\" {\n  port_range = \"bench\"\n  count      = %d\n}\n\nserver \"edit\" {\n  port = %d\n}\n", state, api, n-1, editPort)
		tmp := specFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, specFile); err != nil {
			b.Fatal(err)
		}
	}
	write(23300)
	agent := exec.Command(bin, "agent", "-config", specFile)
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
		write(0)
		_ = os.WriteFile(specFile, []byte(fmt.Sprintf("agent {\n  state_dir = %q\n}\n", state)), 0o644)
		_ = exec.Command(bin, "apply", "-auto-approve", "-config", specFile).Run()
	}()
	var ports []int
	for i := 0; i < n-1; i++ {
		ports = append(ports, 23200+i)
	}
	allUp(b, append(ports, 23300))

	// kill -9 -> a new listener answering, one server per round.
	var kills []time.Duration
	for i := 0; i < 15; i++ {
		name := "desk-" + strconv.Itoa(i+1)
		old := pidOf(b, state, name)
		start := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for {
			if p := pidOf(b, state, name); p != old && p != 0 && probeOK(23200+i) {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("%s not restored", name)
			}
			time.Sleep(500 * time.Microsecond)
		}
		kills = append(kills, time.Since(start))
		time.Sleep(50 * time.Millisecond)
	}

	// One server changed in the spec -> converged (its new port answers).
	var edits []time.Duration
	for i := 0; i < 10; i++ {
		port := 23301 + i%2
		start := time.Now()
		write(port)
		for !probeOK(port) {
			if time.Since(start) > 10*time.Second {
				b.Fatal("edit not converged")
			}
			time.Sleep(500 * time.Microsecond)
		}
		edits = append(edits, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}

	// Idle: CPU over 30 s (three resync passes) and resident memory.
	time.Sleep(time.Second)
	c0, _ := usageOf(b, agent.Process.Pid)
	t0 := time.Now()
	time.Sleep(30 * time.Second)
	c1, rss := usageOf(b, agent.Process.Pid)
	idle := 100 * float64(c1-c0) / 100 / time.Since(t0).Seconds() // USER_HZ = 100

	// The peer: supervisord restarting a kill -9'd xrdp.
	sv := startSupervisord(b)
	sv.writePrograms(b, []int{23380})
	sv.update(b)
	allUp(b, []int{23380})
	var svKills []time.Duration
	for i := 0; i < 5; i++ {
		out, err := exec.Command("supervisorctl", "-c", sv.conf, "pid", "xrdp-23380").Output()
		if err != nil {
			b.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		st, _ := procfs.StartTime(pid)
		start := time.Now()
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for {
			out, _ := exec.Command("supervisorctl", "-c", sv.conf, "pid", "xrdp-23380").Output()
			p, _ := strconv.Atoi(strings.TrimSpace(string(out)))
			if st2, _ := procfs.StartTime(p); p != 0 && (p != pid || st2 != st) && probeOK(23380) {
				break
			}
			if time.Since(start) > 20*time.Second {
				b.Fatal("supervisord did not restore xrdp")
			}
			time.Sleep(2 * time.Millisecond)
		}
		svKills = append(svKills, time.Since(start))
	}
	sv.writePrograms(b, nil)
	sv.update(b)

	k, svk, e := median(kills), median(svKills), median(edits)
	b.ReportMetric(ms(k), "kill9-restore-ms")
	b.ReportMetric(ms(svk), "supervisord-kill9-restore-ms")
	b.ReportMetric(ms(k)/ms(svk), "kill9-ratio")
	b.ReportMetric(ms(e), "edit-converge-ms")
	b.ReportMetric(idle, "idle-cpu-percent")
	b.ReportMetric(float64(rss)/(1<<20), "idle-rss-MiB")
	fmt.Printf("\nagent with %d servers (medians; ratio = lucid-rdp / supervisord)\n", n)
	fmt.Printf("  kill -9 -> new listener answering: %6.1f ms (supervisord %6.1f ms, ratio %.3f; target <= 100 ms)\n", ms(k), ms(svk), ms(k)/ms(svk))
	fmt.Printf("  one server edited -> converged:    %6.1f ms (target <= 150 ms)\n", ms(e))
	fmt.Printf("  idle over 30 s: %.2f%% of one core, RSS %.1f MiB (targets <= 1%%, <= 40 MiB)\n", idle, float64(rss)/(1<<20))
}
