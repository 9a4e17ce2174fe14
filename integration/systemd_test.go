package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// The unit and drop-in the examples ship.
const (
	unitFile   = "../examples/systemd/lucid-rdp.service"
	dropInFile = "../examples/systemd/docker-only.conf"
)

// unit is the [Service] section of a unit file: each key's values, in order.
type unit map[string][]string

// readUnit reads path's [Service] section. It knows what the example uses:
// comments, sections, key=value lines; not line continuations or quoting.
func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, section := unit{}, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case section == "Service" && (strings.HasSuffix(line, `\`) || strings.ContainsAny(line, `"'`)):
			t.Fatalf("%s:%d: readUnit does not read continuations or quoting; keep the example plain", path, n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not key=value: %s", path, n, line)
			}
			if section == "Service" {
				u[k] = append(u[k], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// get returns key's last value, or def when the unit does not set it.
func (u unit) get(key, def string) string {
	if v := u[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// argv returns key's command line as argv, with $MAINPID replaced.
func (u unit) argv(t *testing.T, key string, mainPID int) []string {
	t.Helper()
	v := u.get(key, "")
	if v == "" {
		t.Fatalf("the unit has no %s", key)
	}
	if strings.ContainsAny(v[:1], "-@:+!") {
		t.Fatalf("%s=%s: prefixes are not modelled here", key, v)
	}
	argv := strings.Fields(v)
	for i := range argv {
		argv[i] = strings.ReplaceAll(argv[i], "$MAINPID", strconv.Itoa(mainPID))
	}
	return argv
}

// unitCgroup is a cgroup2 group standing for the unit's control group: what
// systemd starts for the unit, and whatever it starts, is in it, and KillMode
// picks which of those a stop signals.
type unitCgroup struct {
	dir string
	fd  int
}

// newUnitCgroup makes the group under the host's cgroup2 hierarchy. On cleanup
// whatever is still in it (servers the test left) moves to the hierarchy's
// root, where it was before, and the group goes.
func newUnitCgroup(t *testing.T) *unitCgroup {
	t.Helper()
	root := cgroup2Root(t)
	dir := filepath.Join(root, fmt.Sprintf("lucid-rdp-it-%d.service", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("make a control group: %v", err)
	}
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	cg := &unitCgroup{dir: dir, fd: fd}
	t.Cleanup(func() {
		syscall.Close(fd)
		for _, pid := range cg.procs(t) {
			_ = os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove the control group: %v", err)
		}
	})
	return cg
}

// cgroup2Root is where the cgroup2 hierarchy is mounted (/sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ... MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && len(f) > 4 && strings.HasPrefix(post, "cgroup2 ") {
			return f[4]
		}
	}
	testenv.Missing(t, "no cgroup2 hierarchy is mounted; systemd's control groups cannot be reproduced")
	return ""
}

// procs lists the pids in the group.
func (c *unitCgroup) procs(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// stopLikeSystemd stops the unit's main process a as `systemctl stop` does
// (systemd.kill(5)): KillSignal to the processes KillMode names (control-group:
// every process in the group; mixed and process: the main process), then,
// when it has gone or TimeoutStopSec passed (capped here at 10 s), SIGKILL to
// what is left of them (control-group and mixed: the whole group; process:
// the main process) unless SendSIGKILL=no.
func stopLikeSystemd(t *testing.T, u unit, cg *unitCgroup, a *runningAgent) {
	t.Helper()
	if len(u["ExecStop"]) > 0 {
		t.Fatal("the unit has an ExecStop, which this reproduction does not run")
	}
	sigs := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGKILL": syscall.SIGKILL}
	sig, ok := sigs[u.get("KillSignal", "SIGTERM")]
	if !ok {
		t.Fatalf("KillSignal=%s is not modelled here", u.get("KillSignal", ""))
	}
	mode := u.get("KillMode", "control-group")
	signal := func(s syscall.Signal, all bool) {
		if !all {
			// Once a.done is closed the main process has been reaped and its
			// pid may be another process's: it is not signalled. Before,
			// os.Process (a pidfd) signals only the process it started.
			select {
			case <-a.done:
			default:
				_ = a.cmd.Process.Signal(s)
			}
			return
		}
		for _, pid := range cg.procs(t) {
			_ = syscall.Kill(pid, s)
		}
	}
	switch mode {
	case "control-group":
		signal(sig, true)
	case "mixed", "process":
		signal(sig, false)
	case "none":
	default:
		t.Fatalf("KillMode=%s is not one systemd knows", mode)
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Errorf("the agent did not stop within 10 s of %s", u.get("KillSignal", "SIGTERM"))
	}
	if u.get("SendSIGKILL", "yes") == "no" {
		return
	}
	signal(syscall.SIGKILL, mode == "control-group" || mode == "mixed")
	<-a.done
}

// TestSystemdUnit: the example unit is valid to systemd, and run with its own
// settings (its command lines, in a control group, stopped as its KillMode
// says) the agent can be reloaded, stopped and started again while a user's
// desktop session goes on: the listener, the sesman, the connection and the
// X server are in the unit's group, and none of them is stopped or
// restarted; the new agent adopts them and lists the session.
//
// There is no systemd as pid 1 on the test hosts (systemd-run needs one), so
// the test does what systemd would do, from the unit file; a unit whose
// KillMode signalled the group fails it.
func TestSystemdUnit(t *testing.T) {
	need(t, "systemd-analyze")
	u := readUnit(t, unitFile)

	// 1. systemd's own reading of the units and the drop-in: no warning at all
	// (verify warns of unknown keys and bad values and still exits 0). The
	// binary's path is this test's; verify checks that it exists.
	dir := t.TempDir()
	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/lucid-rdp"
	if !strings.Contains(string(src), "ExecStart="+installed+" ") {
		t.Fatalf("ExecStart does not run %s", installed)
	}
	if err := os.WriteFile(filepath.Join(dir, "lucid-rdp.service"), []byte(strings.ReplaceAll(string(src), installed, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn, err := os.ReadFile(dropInFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "lucid-rdp.service.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lucid-rdp.service.d", "docker-only.conf"), dropIn, 0o644); err != nil {
		t.Fatal(err)
	}
	// The pull recipe's units (TestPullRecipe runs the service's command).
	for _, name := range []string{"lucid-rdp-pull.service", "lucid-rdp-pull.timer"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(unitFile), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "lucid-rdp.service"),
		filepath.Join(dir, "lucid-rdp-pull.service"), filepath.Join(dir, "lucid-rdp-pull.timer")).CombinedOutput()
	// systemd 252's syscall tables lag the kernel's: names it cannot parse
	// in @system-service are its own, not the unit's.
	var warnings []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "Failed to parse system call, ignoring") {
			warnings = append(warnings, line)
		}
	}
	if err != nil || len(warnings) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, strings.Join(warnings, "\n"))
	}
	if got := u.get("Restart", "no"); got != "on-failure" && got != "always" {
		t.Errorf("Restart=%s: a crashed agent would not come back", got)
	}

	// 2. The agent as the unit starts it, a server and a desktop session.
	h, uids := desktopHost(t, "lucid-it-sid", "Sid-pw-9")
	scr := desktopScreen(t)
	api, port := h.base+19, h.base+1
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"s\" {\n  port = %d\n}\n", port))
	cg := newUnitCgroup(t)
	start := func() *runningAgent {
		argv := u.argv(t, "ExecStart", 0)
		if argv[0] != installed || !slices.Contains(argv, "-config") {
			t.Fatalf("ExecStart=%s: want %s ... -config FILE", u.get("ExecStart", ""), installed)
		}
		argv[0] = bin
		argv[slices.Index(argv, "-config")+1] = filepath.Join(h.dir, "lucid-rdp.hcl")
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cg.fd}
		return h.startAgentCmd(api, 10*time.Second, cmd)
	}
	a := start()
	up(t, port)
	client := scr.login(t, port, "lucid-it-sid", "Sid-pw-9")
	waitFor(t, 30*time.Second, "sid's session", func() bool { return serverSideConns(t, port) == 1 && runs(uids[0], "Xorg") })
	scr.waitDesktop(t, 60*time.Second)

	// What must outlive the agent: the listener and the sesman (by their
	// records), the connection's xrdp and the session's X server. Each must
	// be in the unit's group, or the test would prove nothing.
	rec := h.record("s")
	if rec.Sesman == nil {
		t.Fatal("the record names no sesman")
	}
	keep := map[string]procfs.Identity{"listener": rec.Identity, "sesman": *rec.Sesman}
	if x := xorgOf(uids[0]); x.PID != 0 {
		keep["X server"] = x
	}
	snap, err := procfs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Children(rec.PID) {
		if p.Comm == "xrdp" {
			keep["connection"] = procfs.Identity{PID: p.PID, StartTime: p.StartTime, Comms: []string{"xrdp"}}
		}
	}
	if len(keep) != 4 {
		t.Fatalf("found %d of listener, sesman, connection, X server: %v", len(keep), keep)
	}
	inGroup := cg.procs(t)
	for what, id := range keep {
		if !slices.Contains(inGroup, id.PID) {
			t.Fatalf("the %s (pid %d) is not in the unit's control group %v", what, id.PID, inGroup)
		}
	}
	alive := func(when string) {
		t.Helper()
		for what, id := range keep {
			if !id.Matches() {
				t.Errorf("%s: the %s (pid %d) is gone", when, what, id.PID)
			}
		}
		if serverSideConns(t, port) != 1 || client.exitsWithin(0) {
			t.Errorf("%s: the client is no longer connected", when)
		}
	}

	// 3. systemctl reload: ExecReload with the main pid reloads the spec.
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"s\" {\n  port = %d\n}\n\nserver \"t\" {\n  port = %d\n}\n", port, port+1))
	reload := u.argv(t, "ExecReload", a.cmd.Process.Pid)
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecReload %v: %v\n%s", reload, err, out)
	}
	waitFor(t, 10*time.Second, "the agent to say SIGHUP and start t", func() bool {
		return strings.Contains(a.logs.String(), "SIGHUP: reloading") && probeOK(port+1)
	})
	alive("after systemctl reload")

	// 4. systemctl stop, then start: the servers and the session go on, and
	// the new agent adopts them.
	stopLikeSystemd(t, u, cg, a)
	time.Sleep(2 * time.Second) // a killed connection would have dropped the client by now
	alive("after systemctl stop")
	up(t, port)

	a = start()
	alive("after systemctl start")
	if got := h.record("s").Identity; got.PID != rec.PID || got.StartTime != rec.StartTime {
		t.Errorf("the new agent restarted the listener: pid %d, was %d", got.PID, rec.PID)
	}
	waitFor(t, 10*time.Second, "the new agent to list sid's session", func() bool {
		_, body := a.get(t, "/v1/sessions", "")
		return strings.Contains(body, `"user": "lucid-it-sid"`)
	})
	if got := a.metric(t, `lucid_rdp_server_restarts_total{server="s"}`); got != "0" {
		t.Errorf("server_restarts_total{s} = %q after the restart; want 0", got)
	}
}
