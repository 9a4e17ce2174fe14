package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// sessionsJSON runs `lucid-rdp sessions -json` against the agent.
func (a *runningAgent) sessionsJSON(t *testing.T) []drivers.Session {
	t.Helper()
	out, err := exec.Command(bin, "sessions", "-json", "-addr", a.url).CombinedOutput()
	if err != nil {
		t.Fatalf("lucid-rdp sessions -json: %v\n%s", err, out)
	}
	var ss []drivers.Session
	if err := json.Unmarshal(out, &ss); err != nil {
		t.Fatalf("sessions -json: %v\n%s", err, out)
	}
	return ss
}

// sessionOf returns the session of user on server, if listed.
func sessionOf(ss []drivers.Session, server, user string) (drivers.Session, bool) {
	for _, s := range ss {
		if s.Server == server && s.User == user {
			return s, true
		}
	}
	return drivers.Session{}, false
}

// TestProcessDesktopLogin: a host account logs in with a real client and
// lands on a drawn desktop; its X server and window manager run as that user;
// `sessions -json` lists it. Each server's own sesman enforces its own limit:
// with max = 1 on "a", a second account is refused there and accepted on "b".
// A wrong password gets no session. A listener-only replace (security layer)
// keeps the logged-in session.
func TestProcessDesktopLogin(t *testing.T) {
	h, uids := desktopHost(t, "lucid-it-alice", "Alice-pw-1", "lucid-it-bob", "Bob-pw-2")
	alice, bob := uids[0], uids[1]
	api := h.base + 19
	spec := func(layer string) string {
		return h.agentBlock(api, "") + fmt.Sprintf(`
server "a" {
  port = %d
  sessions {
    max = 1
  }
  security {
    layer = %q
  }
}

server "b" {
  port = %d
  sessions {
    max = 2
  }
}
`, h.base+1, layer, h.base+2)
	}
	h.writeRaw(spec("negotiate"))
	a := h.startAgent(api)
	waitFor(t, 10*time.Second, "both servers", func() bool { return probeOK(h.base+1) && probeOK(h.base+2) })

	// A wrong password gets no session and no count, while the refused
	// client is still connected.
	wrong := desktopScreen(t)
	wrong.login(t, h.base+2, "lucid-it-bob", "not-the-password")
	bLog := filepath.Join(h.dir, "state", "servers", "b", "xrdp-sesman.log")
	waitFor(t, 30*time.Second, "b's sesman to refuse the wrong password", func() bool {
		b, _ := os.ReadFile(bLog)
		return strings.Contains(string(b), "pam_authenticate failed")
	})
	if serverSideConns(t, h.base+2) != 1 {
		t.Fatal("the refused client is not connected: the check below would prove nothing")
	}
	if _, ok := sessionOf(a.sessionsJSON(t), "b", "lucid-it-bob"); ok || runs(bob, "Xorg") {
		t.Fatal("a wrong password got a session")
	}
	if srv, ok := a.listed(t, "servers", "b"); !ok || srv["sessions"].(float64) != 0 {
		t.Fatalf("a refused login counts as a session (or b is not listed): %v", srv)
	}

	// alice logs in on a and gets a desktop.
	scr := desktopScreen(t)
	scr.login(t, h.base+1, "lucid-it-alice", "Alice-pw-1")
	scr.waitDesktop(t, 90*time.Second)
	if !runs(alice, "Xorg") || !runs(alice, "xfwm4") {
		t.Fatalf("alice's X server and window manager do not run as alice")
	}
	var ses drivers.Session
	waitFor(t, 15*time.Second, "sessions -json to list alice on a", func() bool {
		var ok bool
		ses, ok = sessionOf(a.sessionsJSON(t), "a", "lucid-it-alice")
		return ok && ses.State == drivers.SessionActive && ses.Display >= 100 && ses.Client != ""
	})

	// a has max = 1: bob is refused there by a's own sesman ...
	refused := desktopScreen(t)
	refused.login(t, h.base+1, "lucid-it-bob", "Bob-pw-2")
	sesmanLog := filepath.Join(h.dir, "state", "servers", "a", "xrdp-sesman.log")
	waitFor(t, 30*time.Second, "a's sesman to refuse bob", func() bool {
		b, _ := os.ReadFile(sesmanLog)
		return strings.Contains(string(b), "max concurrent session limit exceeded")
	})
	if runs(bob, "Xorg") {
		t.Fatal("bob got a session on a, beyond max = 1")
	}
	// The refusal is counted, from a's sesman log, at the next pass (one
	// that /v1/sessions waits for).
	waitFor(t, 15*time.Second, "the refusal to be counted", func() bool {
		a.sessionsJSON(t)
		return a.metric(t, `lucid_rdp_sessions_rejected_total{reason="max",server="a"}`) == "1"
	})
	// ... and accepted by b's.
	other := desktopScreen(t)
	other.login(t, h.base+2, "lucid-it-bob", "Bob-pw-2")
	other.waitDesktop(t, 90*time.Second)
	waitFor(t, 15*time.Second, "sessions -json to list bob on b", func() bool {
		_, ok := sessionOf(a.sessionsJSON(t), "b", "lucid-it-bob")
		return ok
	})

	// A listener-only change replaces a's listener; alice's session goes on.
	before := h.record("a").PID
	h.writeRaw(spec("tls"))
	waitFor(t, 15*time.Second, "a's listener to be replaced", func() bool {
		return h.record("a").PID != before && probeOK(h.base+1)
	})
	time.Sleep(time.Second)
	after, ok := sessionOf(a.sessionsJSON(t), "a", "lucid-it-alice")
	if !ok || after.Display != ses.Display || after.State != drivers.SessionActive || !runs(alice, "xfwm4") {
		t.Fatalf("alice's session did not survive a listener-only replace: %+v (before %+v)", after, ses)
	}
	scr.waitDesktop(t, 10*time.Second)
}
