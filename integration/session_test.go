package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
)

// serverSideConns counts established connections whose local port is port.
func serverSideConns(t *testing.T, port int) int {
	t.Helper()
	tab, err := socktab.Read()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range tab.Established {
		if s.LocalPort == port {
			n++
		}
	}
	return n
}

// TestLiveSessionSurvivesReplaceAndDrain: a real client's logged-in session is
// counted in the plan, goes on through a replace and through the removal of
// its server (drain), and once it ends the drained server is destroyed.
func TestLiveSessionSurvivesReplaceAndDrain(t *testing.T) {
	h := newHost(t)
	uid := hostUser(t, "lucid-it-carol", "Carol-pw-3")
	scr := desktopScreen(t)
	port := h.base + 1
	h.write("server \"s\" {\n  port = PORT+1\n}\n")
	h.mustApply()

	client := scr.login(t, port, "lucid-it-carol", "Carol-pw-3")
	waitFor(t, 30*time.Second, "the client's session", func() bool { return serverSideConns(t, port) == 1 && runs(uid, "Xorg") })

	// A restart-relevant edit replaces the listener; the session goes on.
	h.write("server \"s\" {\n  port = PORT+1\n  security {\n    layer = \"tls\"\n  }\n}\n")
	code, out := h.planCode()
	if code != 2 || !strings.Contains(out, "# s must be replaced (1 live session)") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	old := h.record("s").PID
	h.mustApply()
	up(t, port)
	if h.record("s").PID == old {
		t.Error("listener was not replaced")
	}
	time.Sleep(300 * time.Millisecond)
	if serverSideConns(t, port) != 1 || !runs(uid, "Xorg") {
		t.Fatal("the session did not survive the replace")
	}

	// Removing the server drains it: the listener goes, the session stays.
	h.write("")
	code, out = h.planCode()
	if code != 2 || !strings.Contains(out, "# s will be drained and destroyed (1 live session)") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	h.mustApply()
	if listening(t, port) {
		t.Error("a drained server still listens")
	}
	time.Sleep(300 * time.Millisecond)
	if serverSideConns(t, port) != 1 || !runs(uid, "Xorg") {
		t.Fatal("the session did not survive the drain")
	}
	code, out = h.planCode()
	if code != 0 || !strings.Contains(out, "Note: s: draining: 1 live session") {
		t.Fatalf("plan while draining: exit %d\n%s", code, out)
	}

	// The client goes: the session is disconnected, not ended, so the server
	// still drains.
	_ = client.Process.Kill()
	waitFor(t, 10*time.Second, "the client to go", func() bool { return serverSideConns(t, port) == 0 })
	if code, out := h.planCode(); code != 0 || !strings.Contains(out, "Note: s: draining: 1 live session") {
		t.Fatalf("plan with a disconnected session: exit %d\n%s", code, out)
	}
	// The user logs out (the X server ends): the drained server is destroyed.
	endSessions(t, uid) // waits until its X server has gone
	code, out = h.planCode()
	if code != 2 || !strings.Contains(out, "drained: its last session has ended") {
		t.Fatalf("plan after the session ended: exit %d\n%s", code, out)
	}
	h.mustApply()
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan at the end: exit %d\n%s", code, out)
	}
}

// TestDrainTimeoutEndsSessions: when a drained server's drain_timeout passes,
// the agent ends that server's sessions (and only those), counts them in
// lucid_rdp_sessions_rejected_total{reason="drain"}, and removes the server.
func TestDrainTimeoutEndsSessions(t *testing.T) {
	h, uids := desktopHost(t, "lucid-it-dave", "Dave-pw-4", "lucid-it-erin", "Erin-pw-5")
	dave, erin := uids[0], uids[1]
	api := h.base + 19
	server := func(name string, port int) string {
		return fmt.Sprintf("server %q {\n  port          = %d\n  drain_timeout = \"6s\"\n}\n\n", name, port)
	}
	h.writeRaw(h.agentBlock(api, "") + server("s", h.base+1) + server("t", h.base+2))
	a := h.startAgent(api)
	waitFor(t, 10*time.Second, "both servers", func() bool { return probeOK(h.base+1) && probeOK(h.base+2) })

	desktopScreen(t).login(t, h.base+1, "lucid-it-dave", "Dave-pw-4")
	desktopScreen(t).login(t, h.base+2, "lucid-it-erin", "Erin-pw-5")
	waitFor(t, 60*time.Second, "both sessions", func() bool {
		ss := a.sessionsJSON(t)
		_, d := sessionOf(ss, "s", "lucid-it-dave")
		_, e := sessionOf(ss, "t", "lucid-it-erin")
		return d && e
	})

	// s leaves the spec: it drains, and dave's session goes on until the timeout.
	removed := time.Now()
	h.writeRaw(h.agentBlock(api, "") + server("t", h.base+2))
	waitFor(t, 10*time.Second, "s to drain", func() bool { return !listening(t, h.base+1) })
	time.Sleep(time.Until(removed.Add(3 * time.Second)))
	if !runs(dave, "Xorg") || serverSideConns(t, h.base+1) != 1 {
		t.Fatal("dave's session ended before drain_timeout passed")
	}

	// When it passes, no event comes: the agent must wake by itself.
	waitFor(t, 15*time.Second, "dave's session to be ended", func() bool {
		return !runs(dave, "Xorg") && serverSideConns(t, h.base+1) == 0
	})
	if took := time.Since(removed); took < 6*time.Second {
		t.Fatalf("ended %s after the drain began, before drain_timeout", took)
	}
	waitFor(t, 10*time.Second, "s to be removed", func() bool {
		_, err := os.Stat(filepath.Join(h.dir, "state", "servers", "s"))
		return os.IsNotExist(err)
	})
	// The folder goes inside apply; the count follows when apply returns.
	waitFor(t, 5*time.Second, `sessions_rejected_total{reason="drain",server="s"} = 1`, func() bool {
		return a.metric(t, `lucid_rdp_sessions_rejected_total{reason="drain",server="s"}`) == "1"
	})
	if !strings.Contains(a.logs.String(), "session ended: drain_timeout passed") || !strings.Contains(a.logs.String(), "lucid-it-dave") {
		t.Fatalf("the ended session is not logged with its user:\n%s", a.logs.String())
	}
	// erin, on a server the drain did not name, is untouched.
	time.Sleep(time.Second)
	if _, ok := sessionOf(a.sessionsJSON(t), "t", "lucid-it-erin"); !ok || !runs(erin, "Xorg") || serverSideConns(t, h.base+2) != 1 {
		t.Fatal("a session on another server was ended")
	}
	if srv, ok := a.listed(t, "servers", "s"); ok {
		t.Fatalf("s is still in status after its drain ended: %v", srv)
	}
}

// TestProcessDrainAttribute: drain = true stops a process server's listener
// (no new sessions) while its sesman and a live session go on, and the server
// stays up, not restarted; drain = false starts a listener again beside the
// same sesman.
func TestProcessDrainAttribute(t *testing.T) {
	h, uids := desktopHost(t, "lucid-it-fay", "Fay-pw-6")
	fay := uids[0]
	// e is created drained: its sesman runs, no listener ever does.
	spec := func(drain bool) string {
		return fmt.Sprintf("server \"d\" {\n  port  = PORT+1\n  drain = %v\n}\n\nserver \"e\" {\n  port  = PORT+2\n  drain = true\n}\n", drain)
	}
	port := h.base + 1
	h.write(spec(false))
	h.mustApply()
	if listening(t, h.base+2) || h.record("e").PID != 0 || h.record("e").Sesman == nil {
		t.Fatalf("e, created drained, has a listener (or no sesman): %+v", h.record("e"))
	}
	desktopScreen(t).login(t, port, "lucid-it-fay", "Fay-pw-6")
	waitFor(t, 60*time.Second, "fay's session", func() bool { return serverSideConns(t, port) == 1 && runs(fay, "Xorg") })
	sesman := h.record("d").Sesman

	h.write(spec(true))
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "drain = false -> true") || !strings.Contains(out, "lucid-it-fay's session") {
		t.Fatalf("plan of drain = true: exit %d\n%s", code, out)
	}
	h.mustApply()
	if listening(t, port) {
		t.Fatal("a drained server still listens")
	}
	if serverSideConns(t, port) != 1 || !runs(fay, "Xorg") {
		t.Fatal("fay's session did not survive the drain")
	}
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan of a drained server: exit %d (it must not be restarted)\n%s", code, out)
	}

	h.write(spec(false))
	h.mustApply()
	up(t, port)
	if now := h.record("d").Sesman; now == nil || sesman == nil || now.PID != sesman.PID {
		t.Fatalf("the sesman changed across drain and undrain: %+v -> %+v", sesman, now)
	}
	if serverSideConns(t, port) != 1 || !runs(fay, "Xorg") {
		t.Fatal("fay's session did not survive the undrain")
	}
}
