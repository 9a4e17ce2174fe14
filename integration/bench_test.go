package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
)

// benchRounds is how many times each measurement is taken; medians are reported.
const benchRounds = 5

const benchServers = 20

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// allUp waits until every port answers RDP.
func allUp(b *testing.B, ports []int) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range ports {
		for rdpprobe.Probe(context.Background(), "127.0.0.1", p) != nil {
			if time.Now().After(deadline) {
				b.Fatalf("port %d never answered", p)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func allDown(b *testing.B, ports []int) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range ports {
		for rdpprobe.Probe(context.Background(), "127.0.0.1", p) == nil {
			if time.Now().After(deadline) {
				b.Fatalf("port %d still answers", p)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func timed(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(start)
}

// supervisord runs the peer: a supervisord of its own, in a temp folder.
type supervisord struct {
	dir, conf string
	cmd       *exec.Cmd
}

func startSupervisord(b *testing.B) *supervisord {
	b.Helper()
	dir := b.TempDir()
	s := &supervisord{dir: dir, conf: filepath.Join(dir, "supervisord.conf")}
	if err := os.MkdirAll(filepath.Join(dir, "programs"), 0o755); err != nil {
		b.Fatal(err)
	}
	conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/supervisor.sock

[supervisord]
nodaemon=true
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[include]
files = %[1]s/programs/*.conf
`, dir)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	s.cmd = exec.Command("supervisord", "-c", s.conf)
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("supervisorctl", "-c", s.conf, "pid").Run() != nil {
		if time.Now().After(deadline) {
			b.Fatal("supervisord did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// writePrograms gives supervisord one xrdp listener per port (none for nil).
func (s *supervisord) writePrograms(b *testing.B, ports []int) {
	b.Helper()
	src, err := os.ReadFile("/etc/xrdp/xrdp.ini")
	if err != nil {
		b.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(s.dir, "programs", "*.conf"))
	for _, f := range old {
		os.Remove(f)
	}
	for _, p := range ports {
		ini := filepath.Join(s.dir, "xrdp-"+strconv.Itoa(p)+".ini")
		conf := strings.Replace(string(src), "\nport=3389\n", "\nport=tcp://127.0.0.1:"+strconv.Itoa(p)+"\n", 1)
		conf = strings.Replace(conf, "\nLogFile=xrdp.log\n", "\nLogFile="+filepath.Join(s.dir, "xrdp-"+strconv.Itoa(p)+".log")+"\n", 1)
		if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
			b.Fatal(err)
		}
		prog := fmt.Sprintf("[program:xrdp-%d]\ncommand=xrdp --nodaemon --config %s\nautorestart=true\nstartsecs=0\n", p, ini)
		if err := os.WriteFile(filepath.Join(s.dir, "programs", strconv.Itoa(p)+".conf"), []byte(prog), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func (s *supervisord) update(b *testing.B) time.Duration {
	return timed(b, "supervisorctl", "-c", s.conf, "update")
}

// BenchmarkVsSupervisord converges 20 xrdp listeners from nothing, and answers
// a no-op, with lucid-rdp and with supervisord in the same run, and reports the
// medians and ratios (lucid-rdp / supervisord; lower is better). Run it with
// `make bench`; -benchtime=1x, as each run already takes several rounds.
func BenchmarkVsSupervisord(b *testing.B) {
	if _, err := exec.LookPath("supervisord"); err != nil {
		b.Skip("supervisord is not installed (scripts/setup.sh bench)")
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	sv := startSupervisord(b)
	var svPorts, ourPorts []int
	for i := 0; i < benchServers; i++ {
		svPorts = append(svPorts, 23000+i)
		ourPorts = append(ourPorts, 23100+i)
	}
	dir := b.TempDir()
	specFile := filepath.Join(dir, "lucid-rdp.hcl")
	writeSpec := func(count int) {
		src := fmt.Sprintf("agent {\n  state_dir = %q\n  parallelism = 20\n}\n\nport_range \"bench\" {\n  from = 23100\n  to   = 23199\n}\n", filepath.Join(dir, "state"))
		if count > 0 {
			src += fmt.Sprintf("\nserver \"bench\" {\n  port_range = \"bench\"\n  count      = %d\n}\n", count)
		}
		if err := os.WriteFile(specFile, []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	lucid := func(args ...string) time.Duration {
		return timed(b, bin, append(args, "-config", specFile)...)
	}
	b.Cleanup(func() { writeSpec(0); _ = exec.Command(bin, "apply", "-auto-approve", "-config", specFile).Run() })

	var svUp, svNoop, lUp, lNoopApply, lNoopPlan []time.Duration
	for i := 0; i < benchRounds; i++ {
		// supervisord: from nothing to 20 listeners answering RDP.
		sv.writePrograms(b, svPorts)
		start := time.Now()
		sv.update(b)
		allUp(b, svPorts)
		svUp = append(svUp, time.Since(start))
		svNoop = append(svNoop, sv.update(b))
		sv.writePrograms(b, nil)
		sv.update(b)
		allDown(b, svPorts)

		// lucid-rdp: apply returns once every listener answers RDP.
		writeSpec(benchServers)
		lUp = append(lUp, lucid("apply", "-auto-approve"))
		allUp(b, ourPorts)
		lNoopApply = append(lNoopApply, lucid("apply", "-auto-approve"))
		lNoopPlan = append(lNoopPlan, lucid("plan"))
		writeSpec(0)
		lucid("apply", "-auto-approve")
		allDown(b, ourPorts)
	}
	conv, noopA, noopP := median(lUp), median(lNoopApply), median(lNoopPlan)
	svConv, svN := median(svUp), median(svNoop)
	b.ReportMetric(ms(conv), "lucid-converge-ms")
	b.ReportMetric(ms(svConv), "supervisord-converge-ms")
	b.ReportMetric(ms(conv)/ms(svConv), "converge-ratio")
	b.ReportMetric(ms(noopA), "lucid-noop-apply-ms")
	b.ReportMetric(ms(noopP), "lucid-noop-plan-ms")
	b.ReportMetric(ms(svN), "supervisord-noop-ms")
	b.ReportMetric(ms(noopA)/ms(svN), "noop-apply-ratio")
	b.ReportMetric(ms(noopP)/ms(svN), "noop-plan-ratio")
	fmt.Printf("\n%d xrdp listeners, median of %d rounds (ratio = lucid-rdp / supervisord, lower is better)\n", benchServers, benchRounds)
	fmt.Printf("  converge from nothing: lucid-rdp apply %7.1f ms   supervisord update %7.1f ms   ratio %.2f\n", ms(conv), ms(svConv), ms(conv)/ms(svConv))
	fmt.Printf("  no-op:                 lucid-rdp apply %7.1f ms   supervisord update %7.1f ms   ratio %.2f\n", ms(noopA), ms(svN), ms(noopA)/ms(svN))
	fmt.Printf("                         lucid-rdp plan  %7.1f ms                                  ratio %.2f\n", ms(noopP), ms(noopP)/ms(svN))
}
