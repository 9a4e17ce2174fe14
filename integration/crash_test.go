package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// serverProc is an xrdp listener or a server's main xrdp-sesman, found by its
// command line (which names the server's folder), bound to its port or not
// yet.
type serverProc struct {
	server, comm string
	pid, port    int // port 0: not listening (yet)
	start        uint64
}

// serverProcs lists the listeners and main sesmans running from stateDir's
// server folders, and the namespace helpers still waiting at their gate:
// what lucid-rdp started there, tracked or not. A connection process or a
// per-session sesman is none of them: its parent is a process of the same
// name, or, once that parent was killed, it holds a client's connection (and
// no listening socket) or is the parent of an X server.
func serverProcs(t *testing.T, stateDir string) (procs []serverProc, helpers []int) {
	t.Helper()
	tab, err := socktab.Read()
	if err != nil {
		t.Fatal(err)
	}
	port := map[uint64]int{}
	for _, s := range tab.Listening {
		port[s.Inode] = s.LocalPort
	}
	connected := map[uint64]bool{}
	for _, s := range tab.Established {
		connected[s.Inode] = true
	}
	snap, err := procfs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(stateDir, "servers") + "/"
	for _, p := range snap.All() {
		args, err := procfs.Cmdline(p.PID)
		if err != nil || len(args) < 2 {
			continue
		}
		if strings.HasPrefix(args[1], "__lucid-rdp-") && len(args) > 2 && strings.HasPrefix(args[2], prefix) {
			helpers = append(helpers, p.PID)
			continue
		}
		parent, _ := snap.Get(p.PPID)
		if (p.Comm != "xrdp" && p.Comm != "xrdp-sesman") || parent.Comm == p.Comm ||
			!slices.Contains(args, "--config") || !strings.HasPrefix(args[len(args)-1], prefix) {
			continue
		}
		sp := serverProc{server: filepath.Base(filepath.Dir(args[len(args)-1])), comm: p.Comm, pid: p.PID, start: p.StartTime}
		client := false
		for _, ino := range procfs.SocketInodes(p.PID) {
			if n, ok := port[ino]; ok && sp.port == 0 {
				sp.port = n
			}
			client = client || connected[ino]
		}
		orphanedSession := (p.Comm == "xrdp" && sp.port == 0 && client) ||
			(p.Comm == "xrdp-sesman" && slices.ContainsFunc(snap.Children(p.PID), func(k procfs.Stat) bool { return slices.Contains(drivers.XServers, k.Comm) }))
		if orphanedSession {
			continue
		}
		procs = append(procs, sp)
	}
	return procs, helpers
}

// untracked returns the listeners and sesmans under stateDir that no record
// names (pid and start time), servers with more than one of either, and
// helpers that outlived their gate.
func untracked(t *testing.T, stateDir string) (orphans, duplicates []string) {
	t.Helper()
	seen := map[string]int{}
	procs, helpers := serverProcs(t, stateDir)
	for _, p := range procs {
		seen[p.server+" "+p.comm]++
		r, err := readRecord(stateDir, p.server)
		tracked := err == nil && ((p.comm == "xrdp" && r.PID == p.pid && r.StartTime == p.start) ||
			(p.comm == "xrdp-sesman" && r.Sesman != nil && r.Sesman.PID == p.pid && r.Sesman.StartTime == p.start))
		if !tracked {
			orphans = append(orphans, fmt.Sprintf("%s %s pid %d on port %d", p.server, p.comm, p.pid, p.port))
		}
	}
	for _, pid := range helpers {
		orphans = append(orphans, fmt.Sprintf("namespace helper pid %d, still at its gate", pid))
	}
	for k, n := range seen {
		if n > 1 {
			duplicates = append(duplicates, fmt.Sprintf("%s x%d", k, n))
		}
	}
	return orphans, duplicates
}

// endUntracked ends what a failed test left running from stateDir that no
// record names (and the cleanup apply would therefore not find), by pid.
func endUntracked(t *testing.T, stateDir string) {
	orphans, _ := untracked(t, stateDir)
	if len(orphans) == 0 {
		return
	}
	procs, _ := serverProcs(t, stateDir)
	for _, p := range procs {
		_, _ = procfs.Terminate(context.Background(), procfs.Identity{PID: p.pid, StartTime: p.start, Exe: exeOf(p.pid)}, time.Second)
	}
}

func exeOf(pid int) string {
	exe, _ := procfs.Exe(pid)
	return exe
}

// TestCrashConsistency: kill -9 of the agent or of apply at random instants of
// a 20-server converge (creates, replaces, deletes) never leaves a listener or
// a sesman that no record names, nor two for one server; the next agent
// converges to exactly the spec.
func TestCrashConsistency(t *testing.T) {
	h := newHost(t)
	stateDir := filepath.Join(h.dir, "state")
	t.Cleanup(func() { endUntracked(t, stateDir) })
	api := h.base + 19
	spec := func(count int, layer string) string {
		return h.agentBlock(api, "") + fmt.Sprintf(`port_range "desks" {
  from = %d
  to   = %d
}

server "desk" {
  count      = %d
  port_range = "desks"
  security {
    layer = %q
  }
}
`, h.base, h.base+17, count, layer)
	}
	specs := []string{spec(18, "negotiate"), spec(10, "tls"), spec(18, "tls"), spec(14, "negotiate")}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("seed %d", seed)

	const trials = 12
	for trial := range trials {
		h.writeRaw(specs[trial%len(specs)])
		args := []string{"agent", "-config", filepath.Join(h.dir, "lucid-rdp.hcl")}
		if trial%2 == 1 {
			args = []string{"apply", "-auto-approve", "-config", filepath.Join(h.dir, "lucid-rdp.hcl")}
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := time.Duration(20+rng.IntN(1500)) * time.Millisecond
		time.Sleep(after)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		time.Sleep(150 * time.Millisecond) // a helper at its gate sees it close and exits
		orphans, dups := untracked(t, stateDir)
		if len(orphans) > 0 || len(dups) > 0 {
			t.Fatalf("trial %d (%s killed after %s): untracked %v, duplicated %v", trial, args[0], after, orphans, dups)
		}
	}

	// The next agent converges to exactly the spec.
	h.writeRaw(specs[0])
	a := h.startAgent(api)
	waitFor(t, 30*time.Second, "18 servers answering", func() bool {
		for i := range 18 {
			if !probeOK(h.base + i) {
				return false
			}
		}
		return true
	})
	a.stop(t)
	orphans, dups := untracked(t, stateDir)
	if len(orphans) > 0 || len(dups) > 0 {
		t.Fatalf("after converging: untracked %v, duplicated %v", orphans, dups)
	}
	per := map[string]int{}
	procs, _ := serverProcs(t, stateDir)
	for _, p := range procs {
		per[p.comm]++
	}
	if per["xrdp"] != 18 || per["xrdp-sesman"] != 18 {
		t.Fatalf("after converging: %d listeners and %d sesmans, want 18 of each", per["xrdp"], per["xrdp-sesman"])
	}
	dirs, _ := os.ReadDir(filepath.Join(stateDir, "servers"))
	if len(dirs) != 18 {
		t.Fatalf("%d server folders, want 18", len(dirs))
	}
}

// TestCorruptRecordRecovered: a record.json truncated while its server runs
// is rebuilt from the running processes, so the next apply neither starts a
// second listener nor moves the server to another port; the sesman (and with
// it the sessions it knows) is kept, and the bad file is kept aside.
func TestCorruptRecordRecovered(t *testing.T) {
	h := newHost(t)
	stateDir := filepath.Join(h.dir, "state")
	t.Cleanup(func() { endUntracked(t, stateDir) })
	h.write(`port_range "desks" {
  from = PORT+0
  to   = PORT+9
}

server "desk" {
  count      = 2
  port_range = "desks"
}
`)
	h.mustApply()
	path := filepath.Join(stateDir, "servers", "desk-1", "record.json")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := h.record("desk-1")
	if old.Sesman == nil {
		t.Fatalf("record has no sesman: %+v", old)
	}
	port := old.Config.Port
	if err := os.WriteFile(path, before[:len(before)/3], 0o600); err != nil {
		t.Fatal(err)
	}

	code, out := h.planCode()
	if !strings.Contains(out, "record.json was corrupt") {
		t.Fatalf("plan does not say the record was rebuilt: exit %d\n%s", code, out)
	}
	h.mustApply()
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan after apply: exit %d\n%s", code, out)
	}
	orphans, dups := untracked(t, stateDir)
	if len(orphans) > 0 || len(dups) > 0 {
		t.Fatalf("untracked %v, duplicated %v", orphans, dups)
	}
	if now := h.record("desk-1"); now.Sesman == nil || now.Sesman.PID != old.Sesman.PID {
		t.Fatalf("the sesman was not kept: before %+v, now %+v", old.Sesman, now.Sesman)
	}
	if got := h.record("desk-1").Config.Port; got != port {
		t.Fatalf("desk-1 moved from port %d to %d", port, got)
	}
	up(t, port)
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Fatalf("the corrupt record was not kept aside: %v", err)
	}
}
