package integration

import (
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

func alive(pid int) bool { return !gone(pid) }

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
	if serverSideConns(t, port) != 1 || !alive(client.Process.Pid) {
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
	if serverSideConns(t, port) != 1 || !alive(client.Process.Pid) {
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
	endSessions(t, uid)
	waitFor(t, 10*time.Second, "the session to end", func() bool { return !runs(uid, "Xorg") })
	code, out = h.planCode()
	if code != 2 || !strings.Contains(out, "drained: its last session has ended") {
		t.Fatalf("plan after the session ended: exit %d\n%s", code, out)
	}
	h.mustApply()
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan at the end: exit %d\n%s", code, out)
	}
}
