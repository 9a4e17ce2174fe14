package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
)

// Session limits the agent enforces, with real clients: idle_timeout closes
// the connection of a user who gives no input (the session goes on, and the
// user gets it back by logging in again), and keeps a user who does.

// keepBusy moves the mouse on s every 5 s until the test ends: input that
// its RDP client sends on to the session.
func (s *screen) keepBusy(t *testing.T) {
	t.Helper()
	need(t, "xdotool")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Second):
			}
			cmd := exec.Command("xdotool", "mousemove", strconv.Itoa(200+(i%2)*300), strconv.Itoa(300+(i%3)*50))
			cmd.Env = append(os.Environ(), "DISPLAY="+s.display)
			_ = cmd.Run()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// pollSessions calls cond with the agent's sessions every second (each call
// is a pass of the agent's) for up to limit.
func (a *runningAgent) pollSessions(t *testing.T, limit time.Duration, what string, cond func([]drivers.Session) bool) []drivers.Session {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ss := a.sessionsJSON(t)
		if cond(ss) {
			return ss
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; sessions: %+v", limit, what, ss)
		}
		time.Sleep(time.Second)
	}
}

// checkIdleTimeout runs the idle part of the tests on both drivers, once
// idle (logged in, giving no input) and busy (with keepBusy) are logged in
// on server, whose idle_timeout is 60 s. It returns idle's session after its
// connection was closed.
func checkIdleTimeout(t *testing.T, a *runningAgent, server, idle, busy string) drivers.Session {
	t.Helper()
	both := a.pollSessions(t, 30*time.Second, "both sessions, active, with their idle time", func(ss []drivers.Session) bool {
		i, ok1 := sessionOf(ss, server, idle)
		b, ok2 := sessionOf(ss, server, busy)
		return ok1 && ok2 && i.State == drivers.SessionActive && b.State == drivers.SessionActive &&
			i.IdleSource == "x11-input" && b.IdleSource == "x11-input"
	})
	if got := a.metric(t, fmt.Sprintf(`lucid_rdp_sessions{server=%q}`, server)); got != "2" {
		t.Fatalf("lucid_rdp_sessions{server=%q} = %q with two sessions listed: %+v", server, got, both)
	}
	var closed drivers.Session
	a.pollSessions(t, 100*time.Second, idle+"'s idle connection to be closed", func(ss []drivers.Session) bool {
		closed, _ = sessionOf(ss, server, idle)
		b, ok := sessionOf(ss, server, busy)
		if !ok || b.State != drivers.SessionActive {
			t.Fatalf("%s, who gives input, lost the connection: %+v", busy, ss)
		}
		if b.Idle > drivers.Duration(30*time.Second) {
			t.Fatalf("%s gives input every 5 s, yet is idle %s: the idle time does not see input", busy, b.Idle)
		}
		return closed.State == drivers.SessionDisconnected
	})
	if lived := time.Since(closed.StartedAt); lived < 59*time.Second {
		t.Fatalf("%s's connection was closed %s after the session started; idle_timeout is 60 s", idle, lived)
	}
	waitFor(t, 10*time.Second, "the closure to be counted", func() bool {
		return a.metric(t, fmt.Sprintf(`lucid_rdp_sessions_rejected_total{reason="idle",server=%q}`, server)) == "1"
	})
	// The session's age bounds its idle time only from above; the idle time
	// the agent acted on is in its log.
	m := regexp.MustCompile(`idle_timeout passed[^\n]*user=` + regexp.QuoteMeta(idle) + ` [^\n]*idle=(\S+)`).FindStringSubmatch(a.logs.String())
	if m == nil {
		t.Fatalf("the agent did not log the closure with the user and idle time:\n%s", a.logs.String())
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d < 60*time.Second {
		t.Fatalf("%s's connection was closed at idle %s; idle_timeout is 60 s", idle, m[1])
	}
	return closed
}

// TestProcessIdleTimeout: on a process server with idle_timeout = 60s, the
// agent closes the connection of the user who gives no input and counts it;
// the user who moves the mouse keeps theirs. The idle user logs in again and
// gets the same session (same display and X server) back, and keeps it.
func TestProcessIdleTimeout(t *testing.T) {
	need(t, "xdotool")
	h, uids := desktopHost(t, "lucid-it-hank", "Hank-pw-8", "lucid-it-ivy", "Ivy-pw-9")
	hank := uids[0]
	api := h.base + 19
	port := h.base + 1
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"s\" {\n  port = %d\n  sessions {\n    max          = 2\n    idle_timeout = \"60s\"\n  }\n}\n", port))
	a := h.startAgent(api)
	waitFor(t, 10*time.Second, "the server", func() bool { return probeOK(port) })

	idleScr, busyScr := desktopScreen(t), desktopScreen(t)
	idleClient := idleScr.login(t, port, "lucid-it-hank", "Hank-pw-8")
	busyScr.login(t, port, "lucid-it-ivy", "Ivy-pw-9")
	busyScr.keepBusy(t)
	idleScr.waitDesktop(t, 90*time.Second)
	busyScr.waitDesktop(t, 90*time.Second)

	closed := checkIdleTimeout(t, a, "s", "lucid-it-hank", "lucid-it-ivy")
	checkReconnect(t, a, "s", port, "lucid-it-hank", "Hank-pw-8", closed, idleClient, func() bool {
		return runs(hank, "Xorg") && runs(hank, "xfwm4")
	})
}

// checkReconnect runs the end of the idle tests on both drivers, once
// user's connection to server was closed for idleness (closed, as the agent
// listed it after): user's client has gone, the session goes on (stillRuns:
// its X server and window manager run), and user, logging in again, gets the
// same session back (same display, same X server), which is not closed at
// once although it has had no input for longer than idle_timeout: the new
// connection gets the whole limit.
func checkReconnect(t *testing.T, a *runningAgent, server string, port int, user, password string, closed drivers.Session, client *rdpClient, stillRuns func() bool) {
	t.Helper()
	if !client.exitsWithin(15 * time.Second) {
		t.Fatalf("%s's client is still running after its connection was closed", user)
	}
	if !stillRuns() {
		t.Fatalf("%s's session ended; idle_timeout must only close the connection", user)
	}
	again := desktopScreen(t)
	again.login(t, port, user, password)
	again.waitDesktop(t, 60*time.Second)
	back := a.pollSessions(t, 15*time.Second, user+"'s session, active again", func(ss []drivers.Session) bool {
		d, ok := sessionOf(ss, server, user)
		return ok && d.State == drivers.SessionActive
	})
	if d, _ := sessionOf(back, server, user); d.Display != closed.Display || d.XPID != closed.XPID {
		t.Fatalf("%s got a new session (%+v), not their own (%+v)", user, d, closed)
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if d, _ := sessionOf(a.sessionsJSON(t), server, user); d.State != drivers.SessionActive {
			t.Fatalf("%s's new connection was closed at once: %+v", user, d)
		}
	}
}

// TestDockerIdleTimeout: the same on a docker server, whose sessions live in
// the container's network namespace: both are listed with user and state,
// lucid_rdp_sessions agrees, and the agent closes the connection of alice,
// who gives no input, and keeps bob's; alice logs in again and gets her own
// session back.
func TestDockerIdleTimeout(t *testing.T) {
	need(t, "xdotool")
	const server = "idler"
	src := fmt.Sprintf("server %q {\n  driver     = \"docker\"\n  image      = %q\n  port       = PORT+1\n  users_file = \"idler.users\"\n  sessions {\n    max          = 2\n    idle_timeout = \"60s\"\n  }\n}\n", server, xrdpImage)
	dc := startDesktopContainer(t, server, src)
	// The same servers, with an agent block of the agent's own.
	api := dc.h.base + 19
	dc.h.writeRaw(dc.h.agentBlock(api, "") + dc.h.expand(src))
	a := dc.h.startAgent(api)
	busy := desktopScreen(t)
	busy.login(t, dc.port, "bob", "bob-pw")
	busy.keepBusy(t)
	busy.waitDesktop(t, 90*time.Second)
	closed := checkIdleTimeout(t, a, server, "alice", "bob")
	checkReconnect(t, a, server, dc.port, "alice", "alice-pw", closed, dc.aliceClient, func() bool {
		ps := containerProcs(t, dc.cli, dc.name)
		return countProcs(ps, "Xorg", dc.alice) == 1 && countProcs(ps, "xfwm4", dc.alice) == 1
	})
}

// TestProcessMaxPastSesman: a session that gets past the server's sesman is
// ended by the agent, newest first, and counted; the one within max is kept.
// A sesman started again after it died (kill -9 here; an OOM kill alike) knows
// nothing of the sessions its predecessor started, so with max = 1 and
// frank's session live it lets gina in.
//
// frank's session is then an orphan: no sesman knows it. Its connection
// process is stopped (SIGSTOP) and frank's client killed, which leaves both
// kinds of leftover: an xrdp process that holds no connection and will not
// exit, and a disconnected session nobody can reconnect to. The agent ends
// both and counts them.
func TestProcessMaxPastSesman(t *testing.T) {
	h, uids := desktopHost(t, "lucid-it-frank", "Frank-pw-6", "lucid-it-gina", "Gina-pw-7")
	frank, gina := uids[0], uids[1]
	api := h.base + 19
	port := h.base + 1
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"s\" {\n  port = %d\n  sessions {\n    max = 1\n  }\n}\n", port))
	a := h.startAgent(api)
	waitFor(t, 10*time.Second, "the server", func() bool { return probeOK(port) })
	first := desktopScreen(t)
	frankClient := first.login(t, port, "lucid-it-frank", "Frank-pw-6")
	first.waitDesktop(t, 90*time.Second)
	a.pollSessions(t, 15*time.Second, "frank's session", func(ss []drivers.Session) bool {
		_, ok := sessionOf(ss, "s", "lucid-it-frank")
		return ok
	})

	old := h.record("s").Sesman
	if old == nil {
		t.Fatal("the server has no sesman of its own")
	}
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Each poll is a pass of the agent's, which restarts the sesman.
	a.pollSessions(t, 20*time.Second, "a new sesman", func([]drivers.Session) bool {
		s := h.record("s").Sesman
		return s != nil && s.PID != old.PID && probeOK(port)
	})
	if !runs(frank, "Xorg") {
		t.Fatal("frank's session did not survive its sesman's death")
	}

	desktopScreen(t).login(t, port, "lucid-it-gina", "Gina-pw-7")
	checkEndedPastMax(t, a, "s", "gina", func() bool { return runs(gina, "Xorg") })
	if !strings.Contains(a.logs.String(), "past sessions.max") || !strings.Contains(a.logs.String(), "user=lucid-it-gina") {
		t.Errorf("the agent did not log the closure with the user:\n%s", a.logs.String())
	}
	if !runs(frank, "Xorg") || !runs(frank, "xfwm4") {
		t.Fatal("frank's session, within max, was ended")
	}

	checkLeftovers(t, a, "s", "lucid-it-frank", frankClient, func() bool { return runs(frank, "Xorg") })
	if !strings.Contains(a.logs.String(), "no sesman knew it") || !strings.Contains(a.logs.String(), "whose client was gone") {
		t.Errorf("the agent did not log the leftovers:\n%s", a.logs.String())
	}
}

// TestDockerSesmanRestart: a container's sesman that dies (kill -9 here, the
// OOM killer alike) is started again by the image's entrypoint, and alice's
// session, started by the dead one, goes on. The new sesman knows nothing of
// it, so with max = 1 it lets bob in: the agent ends bob's session, past max,
// and counts it. alice's session is then an orphan; her connection process is
// stopped and her client killed, and the agent ends both leftovers (the
// connection that will not exit, the session nobody can reconnect to) and
// counts them, as on the process driver.
func TestDockerSesmanRestart(t *testing.T) {
	const server = "phoenix"
	src := fmt.Sprintf("server %q {\n  driver     = \"docker\"\n  image      = %q\n  port       = PORT+1\n  users_file = \"phoenix.users\"\n  sessions {\n    max = 1\n  }\n}\n", server, xrdpImage)
	dc := startDesktopContainer(t, server, src)
	api := dc.h.base + 19
	dc.h.writeRaw(dc.h.agentBlock(api, "") + dc.h.expand(src))
	a := dc.h.startAgent(api)
	a.pollSessions(t, 15*time.Second, "alice's session", func(ss []drivers.Session) bool {
		s, ok := sessionOf(ss, server, "alice")
		return ok && s.State == drivers.SessionActive && !s.Orphan
	})

	in, err := dc.cli.ContainerInspect(context.Background(), dc.name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := in.Container.State.Pid
	// The container's own sesman: the first process's child that started no X server.
	mainSesman := func() int {
		snap, err := procfs.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range snap.Children(first) {
			if p.Comm == "xrdp-sesman" && !slices.ContainsFunc(snap.Children(p.PID), func(k procfs.Stat) bool { return k.Comm == "Xorg" }) {
				return p.PID
			}
		}
		return 0
	}
	old := mainSesman()
	if old == 0 {
		t.Fatal("no sesman of the container's own")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the entrypoint to start sesman again", func() bool {
		p := mainSesman()
		return p != 0 && p != old
	})
	if countProcs(containerProcs(t, dc.cli, dc.name), "Xorg", dc.alice) != 1 {
		t.Fatal("alice's session did not survive its sesman's death")
	}

	desktopScreen(t).login(t, dc.port, "bob", "bob-pw")
	checkEndedPastMax(t, a, server, "bob", func() bool {
		return countProcs(containerProcs(t, dc.cli, dc.name), "Xorg", dc.bob) > 0
	})

	checkLeftovers(t, a, server, "alice", dc.aliceClient, func() bool {
		return countProcs(containerProcs(t, dc.cli, dc.name), "Xorg", dc.alice) > 0
	})
}

// checkLeftovers makes both kinds of leftover of user's session on server,
// which must be an active orphan, and checks that the agent ends them and
// counts them, no sooner than 10 s: it stops (SIGSTOP) the session's
// connection process and kills the user's client, so the process holds no
// connection and does not exit, and the session is disconnected with no
// sesman to reconnect it. xorgRuns reports whether the session's X server
// still runs.
func checkLeftovers(t *testing.T, a *runningAgent, server, user string, client *rdpClient, xorgRuns func() bool) {
	t.Helper()
	ses, ok := sessionOf(a.sessionsJSON(t), server, user)
	if !ok || ses.State != drivers.SessionActive || !ses.Orphan {
		t.Fatalf("%s's session after its sesman's death: %+v; want active, an orphan", user, ses)
	}
	conn := procfs.Identity{PID: ses.PID, StartTime: ses.StartTime}
	if comm, _ := procfs.Comm(conn.PID); comm != "xrdp" {
		t.Fatalf("%s's connection process %d is %q, not xrdp", user, conn.PID, comm)
	}
	if err := syscall.Kill(conn.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if st, err := procfs.StartTime(conn.PID); err == nil && st == conn.StartTime {
			_ = syscall.Kill(conn.PID, syscall.SIGKILL)
		}
	})
	_ = client.Process.Kill()
	stopped := time.Now()
	waitFor(t, 30*time.Second, "both leftovers to be ended and counted", func() bool {
		return a.metric(t, fmt.Sprintf(`lucid_rdp_leftovers_cleaned_total{kind="connection",server=%q}`, server)) == "1" &&
			a.metric(t, fmt.Sprintf(`lucid_rdp_leftovers_cleaned_total{kind="session",server=%q}`, server)) == "1"
	})
	t.Logf("leftovers ended %s after %s's client went", time.Since(stopped).Round(100*time.Millisecond), user)
	if since := time.Since(stopped); since < 9*time.Second {
		t.Errorf("leftovers ended %s after they appeared; they get 10 s to go by themselves", since)
	}
	waitFor(t, 10*time.Second, user+"'s orphaned session to end", func() bool { return !xorgRuns() })
	if st, err := procfs.StartTime(conn.PID); err == nil && st == conn.StartTime {
		t.Fatalf("%s's stopped connection process %d still runs", user, conn.PID)
	}
}

// checkEndedPastMax watches, at 50 ms, the X server of user's session on
// server (xorgRuns) come and go, once user has logged in past a sesman that
// lets them in beyond max = 1: the agent must end it within 2 s of a look a
// second, and count it.
func checkEndedPastMax(t *testing.T, a *runningAgent, server, user string, xorgRuns func() bool) {
	t.Helper()
	var came, went time.Time
	deadline := time.Now().Add(60 * time.Second)
	for went.IsZero() && time.Now().Before(deadline) {
		switch on := xorgRuns(); {
		case on && came.IsZero():
			came = time.Now()
		case !on && !came.IsZero():
			went = time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if came.IsZero() {
		t.Fatalf("%s never got past the new sesman: the test proves nothing", user)
	}
	if went.IsZero() {
		t.Fatalf("%s's session past max = 1 was not ended", user)
	}
	lasted := went.Sub(came)
	t.Logf("%s's session past max = 1 lasted %s", user, lasted.Round(10*time.Millisecond))
	if lasted > 3*time.Second {
		t.Errorf("%s's session past max lasted %s; it must be ended within 2 s of a look a second", user, lasted)
	}
	waitFor(t, 10*time.Second, "the closure to be counted", func() bool {
		return a.metric(t, fmt.Sprintf(`lucid_rdp_sessions_rejected_total{reason="max",server=%q}`, server)) == "1"
	})
}
