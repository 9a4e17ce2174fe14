package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// chaosPorts is how many ports the chaos run's servers draw from: blocks
// of nextBase, as newHost takes, so below the ephemeral ports and apart from
// the other tests' (and, with LUCID_RDP_TEST_PORT_BASE, other runs') ports.
const chaosPorts = 80

// TestChaos keeps the agent on process and docker servers, two of them with
// a real desktop session each, and for a bounded time does harm at random:
// kill -9 of listeners, sesmans, containers and the agent (right after an
// edit, mid-apply), restarts of the Docker engine (one of the test's own, on
// its own socket and data root), broken and half-written spec files, and a
// full state folder (a small tmpfs). Then it gives the agent a minute to
// converge and asserts, and prints: every declared server up exactly once,
// nothing duplicated, nothing lucid-rdp owns that the spec does not declare,
// no port held twice, both sessions alive (same X servers, clients still
// connected), every home there, and every state file whole.
//
// LUCID_RDP_CHAOS sets how long the harm goes on (default 40s, the short
// version in make test; `make chaos` runs 5m with more servers).
func TestChaos(t *testing.T) {
	needRoot(t)
	long := 40 * time.Second
	if v := os.Getenv("LUCID_RDP_CHAOS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LUCID_RDP_CHAOS=%q: %v", v, err)
		}
		long = d
	}
	procServers, dockServers := 6, 6
	if long >= 2*time.Minute {
		procServers, dockServers = 24, 12
	}
	need(t, "dockerd", "mount", "umount", "ip")
	h, uids := desktopHost(t, "chaos-amy", "Amy-pw-1", "chaos-ben", "Ben-pw-2")
	stateDir := filepath.Join(h.dir, "state")
	chaosFrom, chaosTo := nextBase, nextBase+chaosPorts-1
	nextBase += chaosPorts
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 12))
	t.Logf("seed %d, %s of chaos, %d process and %d docker servers", seed, long, procServers+2, dockServers)

	// The state folder is a small tmpfs, to fill.
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "lucid-rdp-chaos", stateDir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	// It goes at cleanup however the test stops. Once the agent may have
	// made servers (from chaosTeardown on), chaosTeardown unmounts it itself
	// after its empty-spec apply, and runs first (cleanups run last
	// registered first); this one then does nothing. Before that, nothing
	// is kept in it.
	unmounted := false
	unmountState := func() {
		if unmounted {
			return
		}
		unmounted = true
		// Lazily: what the sessions' processes left open goes with them.
		if out, err := exec.Command("umount", "--lazy", stateDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", stateDir, err, out)
		}
	}
	t.Cleanup(unmountState)
	hadDocker0 := exec.Command("ip", "link", "show", "docker0").Run() == nil
	engine := startChaosEngine(t)
	t.Setenv("DOCKER_HOST", "unix://"+engine.sock)
	buildResponder(t, engine.cli)

	api := h.base + 19
	spec := func(procs, docks int) string {
		// A resync of 3 s: what the agent is not told of (a kill it does not
		// watch for, an engine back up) it finds soon.
		agentBlock := strings.Replace(h.agentBlock(api, ""), `resync    = "1h"`, `resync    = "3s"`, 1)
		return agentBlock + fmt.Sprintf(`port_range "chaos" {
  from = %d
  to   = %d
}

server "desk" {
  count      = 2
  port_range = "chaos"
  sessions {
    max = 2
  }
}

server "p" {
  count      = %d
  port_range = "chaos"
}

server "d" {
  count      = %d
  driver     = "docker"
  image      = %q
  network    = "host"
  port_range = "chaos"
}
`, chaosFrom, chaosTo, procs, docks, responderImage)
	}
	// The edits go back and forth between two good specs.
	type good struct {
		src      string
		declared map[string]bool
	}
	var specs []good
	for _, n := range [][2]int{{procServers, dockServers}, {procServers - 2, dockServers - 1}} {
		declared := map[string]bool{"desk-1": true, "desk-2": true}
		for i := 1; i <= n[0]; i++ {
			declared[fmt.Sprintf("p-%d", i)] = true
		}
		for i := 1; i <= n[1]; i++ {
			declared[fmt.Sprintf("d-%d", i)] = true
		}
		specs = append(specs, good{spec(n[0], n[1]), declared})
	}
	current := specs[0]
	h.renameRaw(current.src)

	var agent *runningAgent
	startAgent := func() {
		// Up to a minute: it may start while the engine restarts.
		agent = h.startAgentWithin(api, time.Minute)
	}
	teardown := chaosTeardown(t, h, engine, unmountState, stateDir, uids, func() *runningAgent { return agent })
	startAgent()
	waitFor(t, 90*time.Second, "every server to answer", func() bool { return allAnswer(t, agent, nil) == "" })

	// Two desktops, one per desk, and a file in each home.
	deskPort := func(name string) int {
		srv, ok := agent.listed(t, "servers", name)
		if !ok {
			t.Fatalf("%s is not in the status", name)
		}
		return int(srv["port"].(float64))
	}
	type session struct {
		user   string
		uid    int
		client *rdpClient
		xorg   procfs.Identity
	}
	var sessions []session
	for i, u := range []string{"chaos-amy", "chaos-ben"} {
		pw := map[string]string{"chaos-amy": "Amy-pw-1", "chaos-ben": "Ben-pw-2"}[u]
		s := desktopScreen(t)
		c := s.login(t, deskPort(fmt.Sprintf("desk-%d", i+1)), u, pw)
		s.waitDesktop(t, 90*time.Second)
		if err := os.WriteFile(filepath.Join("/home", u, "chaos-marker"), []byte(u+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		x := xorgOf(uids[i])
		if x.PID == 0 {
			// Or "X server unchanged" at the end would compare 0 with 0.
			t.Fatalf("%s's desktop is up, but no Xorg runs as uid %d", u, uids[i])
		}
		sessions = append(sessions, session{user: u, uid: uids[i], client: c, xorg: x})
	}

	// The harm.
	tally := map[string]int{}
	procRecord := func() (string, record, bool) {
		dirs, _ := os.ReadDir(filepath.Join(stateDir, "servers"))
		if len(dirs) == 0 {
			return "", record{}, false
		}
		name := dirs[rng.IntN(len(dirs))].Name()
		r, err := readRecord(stateDir, name)
		return name, r, err == nil
	}
	kill := func(id procfs.Identity, what string) {
		if id.PID == 0 {
			return
		}
		if sent, _ := procfs.Signal(id, syscall.SIGKILL); sent {
			tally[what]++
		}
	}
	edit := func() {
		current = specs[rng.IntN(len(specs))]
		h.renameRaw(current.src)
	}
	deadline := time.Now().Add(long)
	for time.Now().Before(deadline) {
		switch n := rng.IntN(100); {
		case n < 20:
			if _, r, ok := procRecord(); ok {
				kill(r.Identity, "kill -9 listener")
			}
		case n < 35:
			if _, r, ok := procRecord(); ok && r.Sesman != nil {
				kill(*r.Sesman, "kill -9 sesman")
			}
		case n < 50:
			res, err := engine.cli.ContainerList(context.Background(), client.ContainerListOptions{})
			if err == nil && len(res.Items) > 0 {
				c := res.Items[rng.IntN(len(res.Items))]
				if _, err := engine.cli.ContainerKill(context.Background(), c.ID, client.ContainerKillOptions{Signal: "SIGKILL"}); err == nil {
					tally["kill -9 container"]++
				}
			}
		case n < 65:
			// An edit, and the agent killed while it applies it.
			edit()
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			_ = agent.cmd.Process.Kill()
			<-agent.done
			tally["kill -9 agent mid-apply"]++
			startAgent()
		case n < 75:
			engine.restart(t)
			tally["restart the engine"]++
		case n < 90:
			writeBrokenSpec(t, h, current.src, rng)
			tally["broken spec"]++
			time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				edit()
			} else {
				h.renameRaw(current.src)
			}
		default:
			fillUp(t, stateDir)
			tally["state folder full"]++
			edit() // the agent must write while it cannot
			time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
			if err := os.Remove(filepath.Join(stateDir, "fill")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	}

	// The end: the last good spec, a minute to converge, then the checks.
	h.renameRaw(current.src)
	declared := current.declared
	var why string
	converge := time.Now()
	deadlineEnd := converge.Add(90 * time.Second)
	for {
		why = allAnswer(t, agent, declared)
		if why == "" || time.Now().After(deadlineEnd) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var report []string
	check := func(what string, problems []string) {
		mark := "ok"
		if len(problems) > 0 {
			mark = "FAILED: " + strings.Join(problems, "; ")
			t.Errorf("%s: %s", what, strings.Join(problems, "; "))
		}
		report = append(report, fmt.Sprintf("  %-52s %s", what, mark))
	}
	var upProblems []string
	if why != "" {
		upProblems = append(upProblems, why)
	}
	check(fmt.Sprintf("every declared server up (%d), converged in %s", len(declared), time.Since(converge).Round(100*time.Millisecond)), upProblems)
	check("no duplicate or untracked process", func() []string {
		orphans, dups := untracked(t, stateDir)
		return append(orphans, dups...)
	}())
	containers, err := engine.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatalf("the test's engine: %v", err)
	}
	check("no duplicate container", chaosContainers(containers.Items, declared))
	check("nothing owned that the spec does not declare", chaosOwned(t, containers.Items, stateDir, declared))
	check("no port held twice", portsHeldTwice(t, chaosFrom, chaosTo))
	check("no sesman port or X display given twice", slotsGivenTwice(t, stateDir))
	check("the host's engine untouched (docker0 there)", func() []string {
		if hadDocker0 && exec.Command("ip", "link", "show", "docker0").Run() != nil {
			return []string{"docker0 is gone"}
		}
		return nil
	}())
	check("no session killed", func() []string {
		var out []string
		for _, s := range sessions {
			if s.client.exitsWithin(0) {
				out = append(out, s.user+"'s client has gone")
			}
			if now := xorgOf(s.uid); now.PID != s.xorg.PID || now.StartTime != s.xorg.StartTime {
				out = append(out, fmt.Sprintf("%s's X server pid %d is gone (now %d)", s.user, s.xorg.PID, now.PID))
			}
		}
		return out
	}())
	check("no home lost", func() []string {
		var out []string
		for _, s := range sessions {
			if b, err := os.ReadFile(filepath.Join("/home", s.user, "chaos-marker")); err != nil || string(b) != s.user+"\n" {
				out = append(out, s.user+"'s home lost its file")
			}
		}
		for i := 1; i <= dockServers; i++ {
			vol := "lucid-rdp-d-" + fmt.Sprint(i) + "-home"
			if _, err := engine.cli.VolumeInspect(context.Background(), vol, client.VolumeInspectOptions{}); err != nil {
				out = append(out, "volume "+vol+" is gone")
			}
		}
		return out
	}())
	check("state files intact", stateFilesIntact(stateDir))

	names := make([]string, 0, len(tally))
	for k := range tally {
		names = append(names, k)
	}
	sort.Strings(names)
	var done []string
	for _, k := range names {
		done = append(done, fmt.Sprintf("%s x%d", k, tally[k]))
	}
	summary := fmt.Sprintf("chaos: seed %d, %s: %s\n%s", seed, long, strings.Join(done, ", "), strings.Join(report, "\n"))
	t.Log(summary)
	if testing.Verbose() {
		fmt.Println(summary)
	}
	teardown()
}

// allAnswer returns why the agent's servers are not all up: a declared
// server missing from the status or not running, or its port not answering
// RDP; "" when all are. declared nil: whatever the status lists.
func allAnswer(t *testing.T, a *runningAgent, declared map[string]bool) string {
	t.Helper()
	code, body := a.get(t, "/v1/status", "")
	if code != http.StatusOK {
		return fmt.Sprintf("status answered %d", code)
	}
	var st struct {
		Servers []struct {
			Name, State string
			Port        int
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return err.Error()
	}
	seen := map[string]bool{}
	for _, s := range st.Servers {
		seen[s.Name] = true
		if declared != nil && !declared[s.Name] {
			return s.Name + " is listed but not declared"
		}
		if s.State != "up" || !probeOK(s.Port) {
			return fmt.Sprintf("%s is %s on port %d", s.Name, s.State, s.Port)
		}
	}
	for name := range declared {
		if !seen[name] {
			return name + " is not listed"
		}
	}
	if len(st.Servers) == 0 {
		return "no servers listed"
	}
	return ""
}

// chaosContainers returns what is wrong with the engine's lucid-rdp
// containers: a declared docker server without exactly one running.
func chaosContainers(containers []container.Summary, declared map[string]bool) []string {
	per := map[string]int{}
	var out []string
	for _, c := range containers {
		name := c.Labels[docker.LabelServer]
		per[name]++
		if c.State != "running" {
			out = append(out, fmt.Sprintf("container of %s is %s", name, c.State))
		}
	}
	for name := range declared {
		if strings.HasPrefix(name, "d-") && per[name] != 1 {
			out = append(out, fmt.Sprintf("%s has %d containers", name, per[name]))
		}
	}
	return out
}

// chaosOwned returns what lucid-rdp owns that the spec does not declare:
// records, server folders, containers.
func chaosOwned(t *testing.T, containers []container.Summary, stateDir string, declared map[string]bool) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"servers", "docker"} {
		dirs, _ := os.ReadDir(filepath.Join(stateDir, sub))
		for _, d := range dirs {
			if d.IsDir() && !declared[d.Name()] {
				out = append(out, sub+"/"+d.Name())
			}
		}
	}
	for _, c := range containers {
		if name := c.Labels[docker.LabelServer]; !declared[name] {
			out = append(out, "container of "+name)
		}
	}
	procs, _ := serverProcs(t, stateDir)
	for _, p := range procs {
		if !declared[p.server] {
			out = append(out, fmt.Sprintf("%s of %s, pid %d", p.comm, p.server, p.pid))
		}
	}
	return out
}

// portsHeldTwice lists the ports of the chaos range from..to, and the
// sesman ports, with more than one listening socket.
func portsHeldTwice(t *testing.T, from, to int) []string {
	t.Helper()
	tab, err := socktab.ReadListening()
	if err != nil {
		return []string{err.Error()}
	}
	per := map[int]map[uint64]bool{}
	for _, s := range tab.Listening {
		if (s.LocalPort >= from && s.LocalPort <= to) || (s.LocalPort >= hostslots.SesmanPortFirst && s.LocalPort <= hostslots.SesmanPortLast) {
			if per[s.LocalPort] == nil {
				per[s.LocalPort] = map[uint64]bool{}
			}
			per[s.LocalPort][s.Inode] = true
		}
	}
	var out []string
	for port, socks := range per {
		if len(socks) > 1 {
			out = append(out, fmt.Sprintf("port %d has %d listeners", port, len(socks)))
		}
	}
	return out
}

// slotsGivenTwice returns the sesman ports and X displays that two servers'
// records and slot files both hold.
func slotsGivenTwice(t *testing.T, stateDir string) []string {
	t.Helper()
	type slot struct {
		owner             string
		port, first, last int
	}
	var slots []slot
	recs, _ := filepath.Glob(filepath.Join(stateDir, "servers", "*", "record.json"))
	for _, f := range recs {
		r, err := readRecord(stateDir, filepath.Base(filepath.Dir(f)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		first, last := hostslots.Block(r.DisplayOffset, r.Settings.MaxSessions)
		slots = append(slots, slot{f, r.SesmanPort, first, last})
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "docker", "*", "slot.json"))
	for _, f := range files {
		var s hostslots.Slot
		readJSONFile(t, f, &s)
		slots = append(slots, slot{f, s.SesmanPort, s.First, s.Last})
	}
	var out []string
	for i, a := range slots {
		for _, b := range slots[i+1:] {
			if a.port == b.port || (a.first <= b.last && b.first <= a.last) {
				out = append(out, fmt.Sprintf("%s %+v and %s %+v", a.owner, a, b.owner, b))
			}
		}
	}
	if len(slots) < 3 {
		out = append(out, fmt.Sprintf("only %d slots found", len(slots)))
	}
	return out
}

// stateFilesIntact returns the state files that do not parse.
func stateFilesIntact(stateDir string) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.json"))
	for _, sub := range []string{"servers/*/record.json", "docker/*/settings.json", "docker/*/slot.json"} {
		more, _ := filepath.Glob(filepath.Join(stateDir, sub))
		files = append(files, more...)
	}
	if len(files) < 3 {
		out = append(out, fmt.Sprintf("only %d state files", len(files)))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		var v any
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", strings.TrimPrefix(f, stateDir+"/"), err))
		}
	}
	if b, err := os.ReadFile(filepath.Join(stateDir, docker.DeploymentFile)); err != nil || !regexp.MustCompile(`^[0-9a-f]{32}\n$`).Match(b) {
		out = append(out, fmt.Sprintf("deployment-id: %q, %v", b, err))
	}
	return out
}

// writeBrokenSpec writes, in place, a spec that must not load: good cut
// off inside a block (as a crashed editor leaves it), or with a block that
// does not parse, or with a value no server may have.
func writeBrokenSpec(t *testing.T, h *host, good string, rng *rand.Rand) {
	t.Helper()
	var bad string
	switch rng.IntN(3) {
	case 0:
		at := strings.Index(good, `server "p"`)
		cut := at + 1 + rng.IntN(len(`server "p" {`)+10)
		bad = good[:cut]
		if !strings.Contains(good[at:cut], "{") {
			bad += " {"
		}
		bad += "\n  port_range ="
	case 1:
		bad = good + "\nserver \"x\" {{\n"
	default:
		bad = strings.Replace(good, "max = 2", "max = 0", 1)
	}
	h.writeRaw(bad)
}

// fillUp fills the file system of dir with dir/fill.
func fillUp(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// chaosTeardown returns the end of the chaos run, also run at cleanup if
// the test stops before: the agent stops, the sessions of uids end, an empty
// spec is applied to the test's engine, the engine stops and the tmpfs goes
// (unmountState). newHost's own cleanup comes after, and finds nothing.
func chaosTeardown(t *testing.T, h *host, e *chaosEngine, unmountState func(), stateDir string, uids []int, agent func() *runningAgent) func() {
	done := false
	down := func() {
		if done {
			return
		}
		done = true
		if a := agent(); a != nil {
			a.stop(t)
		}
		_ = os.Remove(filepath.Join(stateDir, "fill"))
		// The sessions end first, so the servers go at once rather than
		// drain.
		endSessions(t, uids...)
		h.write("")
		if code, out := h.run("apply", "-auto-approve"); code != 0 {
			t.Errorf("teardown apply: exit %d\n%s", code, out)
		}
		endUntracked(t, stateDir)
		e.stop(t)
		unmountState()
		e.remove(t)
	}
	t.Cleanup(down)
	return down
}

// chaosEngine is a Docker engine of the test's own: its socket, data root,
// exec root, containerd namespace and bridge, and no iptables rules (its
// containers use the host's network), so it touches nothing of the host's
// engine.
type chaosEngine struct {
	dir, sock string
	// bridge and namespace are this run's own (named after its pid), so
	// that two runs on one host, or a killed run's leftovers, never meet.
	bridge, namespace string
	cli               *client.Client
	cmd               *exec.Cmd
	done              chan struct{}
}

// startChaosEngine starts the test's engine. An engine started with
// --bridge=none deletes the host's docker0, which the host's engine needs:
// this one is given a bridge of its own instead (its containers use the
// host's network; the bridge carries nothing), on 10.213.<pid%250>.0/24
// (TestFleet's engines use 10.214.x). Only what this run made is removed.
func startChaosEngine(t *testing.T) *chaosEngine {
	t.Helper()
	pid := os.Getpid()
	e := &chaosEngine{
		bridge:    fmt.Sprintf("lrchaos%d", pid), // at most 14 bytes: pids are below 2^22
		namespace: fmt.Sprintf("lucid-rdp-chaos-%d", pid),
	}
	if out, err := exec.Command("ip", "link", "add", e.bridge, "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s: %v\n%s", e.bridge, err, out)
	}
	t.Cleanup(func() {
		out, err := exec.Command("ip", "link", "del", e.bridge).CombinedOutput()
		if err != nil && exec.Command("ip", "link", "show", e.bridge).Run() == nil {
			t.Errorf("ip link del %s: %v\n%s", e.bridge, err, out)
		}
	})
	subnet := fmt.Sprintf("10.213.%d.1/24", pid%250)
	if out, err := exec.Command("ip", "addr", "add", subnet, "dev", e.bridge).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add %s dev %s: %v\n%s", subnet, e.bridge, err, out)
	}
	dir, err := os.MkdirTemp("/tmp", "lrchaos")
	if err != nil {
		t.Fatal(err)
	}
	e.dir, e.sock = dir, filepath.Join(dir, "docker.sock")
	// Registered before the engine starts: a start that fails (or a later
	// step of the test) must not leave dockerd, its mounts or its folder.
	t.Cleanup(func() { e.remove(t) })
	e.start(t)
	cli, err := client.New(client.WithHost("unix://"+e.sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	e.cli = cli
	return e
}

// remove stops the engine, undoes its mounts and removes its folder. It runs
// at the end of the test and again at cleanup; the second time finds
// nothing to do.
func (e *chaosEngine) remove(t *testing.T) {
	e.stop(t)
	e.unmount(t)
	if err := os.RemoveAll(e.dir); err != nil {
		t.Errorf("remove the test engine's folder: %v", err)
	}
}

// start starts dockerd and waits until it answers.
func (e *chaosEngine) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	e.cmd = exec.Command("dockerd",
		"--host", "unix://"+e.sock,
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		"--bridge", e.bridge, "--iptables=false", "--ip-masq=false",
		"--containerd-namespace", e.namespace, "--containerd-plugins-namespace", e.namespace+"-plugins")
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(e.cmd, e.done)
	cli, err := client.New(client.WithHost("unix://"+e.sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx, client.PingOptions{})
		cancel()
		if err == nil {
			return
		}
		select {
		case <-e.done:
			b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
			t.Fatalf("the test's dockerd exited:\n%s", tailLines(string(b), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test's dockerd did not answer within 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the test's dockerd (SIGTERM to its pid: it stops its
// containers and its containerd) and waits.
func (e *chaosEngine) stop(t *testing.T) {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(45 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
		t.Error("the test's dockerd did not stop within 45 s of SIGTERM")
	}
}

// unmount undoes what the stopped dockerd left mounted under its folders
// (it keeps its default network namespace bound under the exec root).
func (e *chaosEngine) unmount(t *testing.T) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], e.dir+"/") {
			if out, err := exec.Command("umount", "--lazy", f[4]).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v\n%s", f[4], err, out)
			}
		}
	}
}

func (e *chaosEngine) restart(t *testing.T) {
	e.stop(t)
	e.start(t)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
