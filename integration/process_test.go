package integration

import (
	"net"
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

const threeFixed = `
server "a" {
  port = PORT+1
}

server "b" {
  port = PORT+2
}

server "c" {
  port = PORT+3
}
`

// TestApplyThreeServers: three servers from a range answer the RDP probe, and a
// plan afterwards finds nothing to do.
func TestApplyThreeServers(t *testing.T) {
	h := newHost(t)
	h.write(`
port_range "desks" {
  from = PORT+0
  to   = PORT+9
}

server "desk" {
  port_range = "desks"
  count      = 3
}
`)
	out := h.mustApply()
	if !strings.Contains(out, "3 created") {
		t.Errorf("apply output:\n%s", out)
	}
	for i := 0; i < 3; i++ {
		up(t, h.base+i)
		if r := h.record("desk-" + strconv.Itoa(i+1)); r.Config.Port != h.base+i || !r.Matches() {
			t.Errorf("desk-%d record = %+v", i+1, r)
		}
	}
	if code, out := h.planCode(); code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
}

// TestKillNineRestored: a listener killed with SIGKILL shows in the plan and
// apply restores it on the same port, leaving the others alone.
func TestKillNineRestored(t *testing.T) {
	h := newHost(t)
	h.write(threeFixed)
	h.mustApply()
	before := map[string]int{"a": h.record("a").PID, "c": h.record("c").PID}
	victim := h.record("b").PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the listener to die", func() bool { return !listening(t, h.base+2) })
	code, out := h.planCode()
	if code != 2 || !strings.Contains(out, `# b will be created`) || !strings.Contains(out, "has exited") {
		t.Fatalf("plan after kill -9: exit %d\n%s", code, out)
	}
	h.mustApply()
	up(t, h.base+2)
	if h.record("b").PID == victim {
		t.Error("b has the old pid")
	}
	for name, pid := range before {
		if got := h.record(name).PID; got != pid {
			t.Errorf("%s was restarted (pid %d -> %d)", name, pid, got)
		}
	}
}

// TestChangePortReplacesOnlyThatServer.
func TestChangePortReplacesOnlyThatServer(t *testing.T) {
	h := newHost(t)
	h.write(threeFixed)
	h.mustApply()
	pa, pc := h.record("a").PID, h.record("c").PID
	h.write(strings.Replace(threeFixed, "PORT+2", "PORT+12", 1))
	code, out := h.planCode()
	if code != 2 || !strings.Contains(out, "Plan: 0 to create, 1 to replace, 0 to update, 0 to destroy.") ||
		!strings.Contains(out, "# b must be replaced") || !strings.Contains(out, "forces replacement") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	h.mustApply()
	up(t, h.base+12)
	if listening(t, h.base+2) {
		t.Error("old port still listens")
	}
	if h.record("a").PID != pa || h.record("c").PID != pc {
		t.Error("a or c was restarted")
	}
}

// TestRemoveOneDestroyed.
func TestRemoveOneDestroyed(t *testing.T) {
	h := newHost(t)
	h.write(threeFixed)
	h.mustApply()
	pid := h.record("c").PID
	h.write(threeFixed[:strings.Index(threeFixed, `server "c"`)])
	out := h.mustApply()
	if !strings.Contains(out, "c: destroyed") {
		t.Errorf("apply:\n%s", out)
	}
	if listening(t, h.base+3) {
		t.Error("c still listens")
	}
	if _, err := os.Stat(filepath.Join(h.dir, "state", "servers", "c")); !os.IsNotExist(err) {
		t.Errorf("c's folder remains: %v", err)
	}
	waitFor(t, 2*time.Second, "c's listener to exit", func() bool { return gone(pid) })
	up(t, h.base+1)
}

// gone reports whether pid no longer runs (exited, or a zombie awaiting its reaper).
func gone(pid int) bool {
	_, err := procfs.StartTime(pid)
	return err != nil
}

// TestForeignPortFailsOnlyThatServer: a fixed port held by a program lucid-rdp
// does not own fails that server, naming the port; the others converge.
func TestForeignPortFailsOnlyThatServer(t *testing.T) {
	h := newHost(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(h.base+2))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h.write(threeFixed)
	code, out := h.run("apply", "-auto-approve", "-no-color")
	if code == 0 {
		t.Fatalf("apply succeeded with a foreign listener on b's port:\n%s", out)
	}
	want := "port " + strconv.Itoa(h.base+2)
	if !strings.Contains(out, "b: "+want) || !strings.Contains(out, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("output does not name b, its port and the holder:\n%s", out)
	}
	up(t, h.base+1)
	up(t, h.base+3)
}

// TestStalePidFile: /run/xrdp/xrdp.pid (left by Debian's xrdp service, or a
// crash) makes a plain `xrdp --nodaemon` refuse to start; the driver must not.
func TestStalePidFile(t *testing.T) {
	h := newHost(t)
	const pidFile = "/run/xrdp/xrdp.pid"
	if _, err := os.Stat(pidFile); os.IsNotExist(err) {
		if err := os.MkdirAll("/run/xrdp", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pidFile, []byte("999999\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(pidFile) })
	}
	h.write(threeFixed)
	h.mustApply()
	for i := 1; i <= 3; i++ {
		up(t, h.base+i)
	}
	if b, err := os.ReadFile(pidFile); err != nil || len(b) == 0 {
		t.Errorf("the host's pid file was touched: %q %v", b, err)
	}
}

// TestEmptySpecRemovesOnlyOurs: applying a spec without servers removes what
// lucid-rdp owns and nothing else, not even another xrdp.
func TestEmptySpecRemovesOnlyOurs(t *testing.T) {
	h := newHost(t)
	h.write(threeFixed)
	h.mustApply()

	// A foreign xrdp, started by hand, with no record.
	port := h.base + 10
	ini := filepath.Join(h.dir, "foreign.ini")
	src, err := os.ReadFile("/etc/xrdp/xrdp.ini")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(src), "\nport=3389\n", "\nport=tcp://127.0.0.1:"+strconv.Itoa(port)+"\n", 1)
	conf = strings.Replace(conf, "\nLogFile=xrdp.log\n", "\nLogFile="+filepath.Join(h.dir, "foreign.log")+"\n", 1)
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/xrdp/xrdp.pid"); err == nil {
		t.Fatal("/run/xrdp/xrdp.pid exists, so a plain xrdp cannot start beside it; is Debian's xrdp service running?")
	}
	foreign := exec.Command("xrdp", "--nodaemon", "--config", ini)
	foreign.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := foreign.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = foreign.Process.Kill(); _ = foreign.Wait() }()
	waitFor(t, 5*time.Second, "the foreign xrdp", func() bool { return listening(t, port) })

	h.write("")
	out := h.mustApply()
	if !strings.Contains(out, "3 destroyed") {
		t.Errorf("apply:\n%s", out)
	}
	for i := 1; i <= 3; i++ {
		if listening(t, h.base+i) {
			t.Errorf("port %d still listens", h.base+i)
		}
	}
	up(t, port)
}

// TestSavedPlan: `plan -out` then `apply PLAN` carries out that plan, from
// the spec it was made from (and says which); another -config is refused, and
// so is a plan whose spec changed since.
func TestSavedPlan(t *testing.T) {
	h := newHost(t)
	h.write("server \"p\" {\n  port = PORT+1\n}\n")
	planFile := filepath.Join(h.dir, "p.plan")
	if code, out := h.run("plan", "-out", planFile); code != 0 {
		t.Fatalf("plan -out: exit %d\n%s", code, out)
	}
	other := filepath.Join(h.dir, "other.hcl")
	if err := os.WriteFile(other, []byte("server \"q\" {\n  port = 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := h.run("apply", "-config", other, planFile); code == 0 || !strings.Contains(out, "the plan was made from") {
		t.Fatalf("apply of the plan with another -config: exit %d\n%s", code, out)
	}
	if listening(t, h.base+1) {
		t.Fatal("a refused apply changed something")
	}
	code, out := h.run("apply", planFile)
	if code != 0 || !strings.Contains(out, "The plan was made from "+filepath.Join(h.dir, "lucid-rdp.hcl")) {
		t.Fatalf("apply PLAN: exit %d\n%s", code, out)
	}
	up(t, h.base+1)
	if code, out := h.run("plan", "-out", planFile); code != 0 {
		t.Fatalf("plan -out: exit %d\n%s", code, out)
	}
	h.write("server \"p\" {\n  port = PORT+2\n}\n")
	if code, out := h.run("apply", planFile); code == 0 || !strings.Contains(out, "has changed since the plan was made") {
		t.Fatalf("apply of a plan whose spec changed: exit %d\n%s", code, out)
	}
}
