package integration

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/amtest"
)

// Alert actions with real servers and real logged-in sessions. Every alert
// here watches host.memory_percent "above 0", which always holds, so that
// writing the alert into the spec is what makes it fire (and "above 1000",
// which never holds, what resolves it); each names server a (or c, d), and
// server b, which none names, must never be touched.

// alertSpec is the spec of TestAlertActions: servers a, b, c and d, and alert.
func alertSpec(h *host, api int, alert string) string {
	return h.agentBlock(api, "") + h.expand(`
server "a" {
  port = PORT+1
  sessions {
    max = 3
  }
}
server "b" {
  port = PORT+2
  sessions {
    max = 3
  }
}
server "c" {
  port = PORT+3
}
server "d" {
  port = PORT+4
}
`) + alert
}

// alertBlock is an alert on host.memory_percent: always firing when above
// is 0, never when it is 1000.
func alertBlock(name, action, servers, cooldown string, above int) string {
	return fmt.Sprintf("alert %q {\n  metric   = \"host.memory_percent\"\n  above    = %d\n  servers  = [%s]\n  action   = %q\n  cooldown = %q\n}\n",
		name, above, servers, action, cooldown)
}

// TestAlertActions: evict_idle, reject_new, drain and restart, each on a real
// server, with real sessions where they concern sessions, and a flapping
// alert that does not restart a server more than once per cooldown.
func TestAlertActions(t *testing.T) {
	need(t, "xdotool")
	h, uids := desktopHost(t, "lucid-it-alma", "Alma-pw-1", "lucid-it-bert", "Bert-pw-2", "lucid-it-cleo", "Cleo-pw-3")
	alma, bert, cleo := uids[0], uids[1], uids[2]
	api := h.base + 19
	pa, pb, pc, pd := h.base+1, h.base+2, h.base+3, h.base+4
	h.writeRaw(alertSpec(h, api, ""))
	a := h.startAgent(api)
	for _, p := range []int{pa, pb, pc, pd} {
		waitFor(t, 15*time.Second, "the servers", func() bool { return probeOK(p) })
	}
	bPID := h.record("b").PID

	// alma and bert on a (bert keeps busy), cleo on b; alma and cleo then
	// close their clients: their sessions go on, disconnected.
	almaScr, bertScr, cleoScr := desktopScreen(t), desktopScreen(t), desktopScreen(t)
	almaClient := almaScr.login(t, pa, "lucid-it-alma", "Alma-pw-1")
	bertScr.login(t, pa, "lucid-it-bert", "Bert-pw-2")
	bertScr.keepBusy(t)
	cleoClient := cleoScr.login(t, pb, "lucid-it-cleo", "Cleo-pw-3")
	almaScr.waitDesktop(t, 90*time.Second)
	bertScr.waitDesktop(t, 90*time.Second)
	cleoScr.waitDesktop(t, 90*time.Second)
	_ = almaClient.Process.Kill()
	_ = cleoClient.Process.Kill()
	a.pollSessions(t, 30*time.Second, "alma's and cleo's sessions disconnected, bert's active", func(ss []drivers.Session) bool {
		al, ok1 := sessionOf(ss, "a", "lucid-it-alma")
		be, ok2 := sessionOf(ss, "a", "lucid-it-bert")
		cl, ok3 := sessionOf(ss, "b", "lucid-it-cleo")
		return ok1 && ok2 && ok3 && al.State == drivers.SessionDisconnected && cl.State == drivers.SessionDisconnected && be.State == drivers.SessionActive
	})

	// server.memory_bytes of a process server counts its sessions: two
	// desktops hold tens of MiB; c, with none, far less.
	mem := map[string]float64{}
	for _, name := range []string{"a", "c"} {
		srv, ok := a.listed(t, "servers", name)
		if !ok {
			t.Fatalf("%s is not in /v1/status", name)
		}
		mem[name], _ = srv["memory_bytes"].(float64)
	}
	if mem["a"] < 40<<20 || mem["c"] == 0 || mem["c"] > mem["a"]/2 {
		t.Errorf("memory_bytes: a (two desktops) %.0f, c (none) %.0f", mem["a"], mem["c"])
	}

	t.Run("evict_idle", func(t *testing.T) {
		h.writeRaw(alertSpec(h, api, alertBlock("evict", "evict_idle", `"a"`, "2s", 0)))
		a.pollSessions(t, 30*time.Second, "alma's disconnected session on a to be evicted", func(ss []drivers.Session) bool {
			_, ok := sessionOf(ss, "a", "lucid-it-alma")
			return !ok
		})
		waitFor(t, 15*time.Second, "alma's X server to exit", func() bool { return !runs(alma, "Xorg") })
		// Two cooldowns more: bert, in use, is never evicted; cleo, idle on
		// b, which the alert does not name, is untouched.
		time.Sleep(5 * time.Second)
		ss := a.sessionsJSON(t)
		if be, ok := sessionOf(ss, "a", "lucid-it-bert"); !ok || be.State != drivers.SessionActive {
			t.Fatalf("bert, in use, lost his session: %+v", ss)
		}
		if _, ok := sessionOf(ss, "b", "lucid-it-cleo"); !ok || !runs(cleo, "Xorg") {
			t.Fatalf("cleo's session on b, which the alert does not name, was ended: %+v", ss)
		}
		if got := a.metric(t, `lucid_rdp_alert_actions_total{action="evict_idle",alert="evict"}`); got != "1" {
			t.Errorf("alert_actions_total for evict_idle = %q; want 1", got)
		}
		if got := a.metric(t, `lucid_rdp_sessions_rejected_total{reason="evict_idle",server="a"}`); got != "1" {
			t.Errorf("sessions_rejected_total{evict_idle,a} = %q; want 1", got)
		}
		if !strings.Contains(a.logs.String(), "evict_idle of alert evict") || !strings.Contains(a.logs.String(), "user=lucid-it-alma") {
			t.Errorf("the eviction was not logged with its user:\n%s", a.logs.String())
		}
	})

	t.Run("reject_new", func(t *testing.T) {
		h.writeRaw(alertSpec(h, api, alertBlock("reject", "reject_new", `"a"`, "1s", 0)))
		waitFor(t, 15*time.Second, "a's sessions.max to be held at its one live session", func() bool {
			return h.record("a").Settings.MaxSessions == 1
		})
		if got := h.record("b").Settings.MaxSessions; got != 3 {
			t.Fatalf("b's sessions.max = %d; the alert does not name b", got)
		}
		desktopScreen(t).login(t, pa, "lucid-it-alma", "Alma-pw-1")
		waitFor(t, 60*time.Second, "alma's login on a to be refused and counted", func() bool {
			a.sessionsJSON(t) // a pass: refusals are read in passes
			return a.metric(t, `lucid_rdp_sessions_rejected_total{reason="reject_new",server="a"}`) == "1"
		})
		if runs(alma, "Xorg") {
			t.Fatal("alma got a session on a while reject_new held it at its live ones")
		}
		// b takes new sessions as ever.
		scr := desktopScreen(t)
		scr.login(t, pb, "lucid-it-alma", "Alma-pw-1")
		scr.waitDesktop(t, 90*time.Second)
		if !runs(bert, "Xorg") {
			t.Fatal("bert's live session on a was ended by reject_new")
		}
		// Resolved, and the cooldown past: a's max is the spec's again.
		h.writeRaw(alertSpec(h, api, alertBlock("reject", "reject_new", `"a"`, "1s", 1000)))
		waitFor(t, 15*time.Second, "a's sessions.max back to 3", func() bool { return h.record("a").Settings.MaxSessions == 3 })
	})

	t.Run("drain", func(t *testing.T) {
		h.writeRaw(alertSpec(h, api, alertBlock("drain", "drain", `"a"`, "1s", 0)))
		waitFor(t, 15*time.Second, "a to stop taking sessions", func() bool { return !probeOK(pa) })
		if !probeOK(pb) || h.record("b").PID != bPID {
			t.Fatal("b, which the alert does not name, was touched")
		}
		if !runs(bert, "Xorg") || !runs(bert, "xfwm4") {
			t.Fatal("bert's session on a did not survive the drain")
		}
		h.writeRaw(alertSpec(h, api, alertBlock("drain", "drain", `"a"`, "1s", 1000)))
		waitFor(t, 15*time.Second, "a to take sessions again once the alert resolved", func() bool { return probeOK(pa) })
		if got := a.metric(t, `lucid_rdp_alert_actions_total{action="drain",alert="drain"}`); got != "1" {
			t.Errorf("alert_actions_total for drain = %q; want 1", got)
		}
	})

	t.Run("restart", func(t *testing.T) {
		cPID, aPID := h.record("c").PID, h.record("a").PID
		h.writeRaw(alertSpec(h, api, alertBlock("restart", "restart", `"a", "c"`, "1h", 0)))
		// c, without sessions, restarts; a, with bert's, drains first.
		waitFor(t, 20*time.Second, "c to restart", func() bool {
			r, err := readRecord(h.dir+"/state", "c")
			return err == nil && r.PID != cPID && probeOK(pc)
		})
		waitFor(t, 15*time.Second, "a to drain before its restart", func() bool { return !probeOK(pa) })
		if got := h.record("a").PID; got != aPID && got != 0 {
			t.Errorf("a, with a live session, was restarted (pid %d -> %d) instead of drained", aPID, got)
		}
		if !runs(bert, "Xorg") {
			t.Fatal("bert's session was ended by the restart's drain")
		}
		if h.record("b").PID != bPID || !probeOK(pb) {
			t.Fatal("b, which the alert does not name, was touched")
		}
		// Status and metrics are set as the pass that restarted c ends, a
		// moment after c answers.
		waitFor(t, 5*time.Second, "/v1/status to show alert restart firing, with since", func() bool {
			al, ok := a.listed(t, "alerts", "restart")
			return ok && al["state"] == "firing" && al["since"] != nil
		})
		if got := a.metric(t, `lucid_rdp_alert_firing{alert="restart"}`); got != "1" {
			t.Errorf("alert_firing{restart} = %q; want 1", got)
		}
		// Passes go on (each sessions call is one): a stays drained while
		// bert's session lasts; it is neither started again nor restarted.
		for i := 0; i < 3; i++ {
			a.sessionsJSON(t)
			time.Sleep(500 * time.Millisecond)
		}
		if probeOK(pa) || !h.record("a").Settings.Drain {
			t.Fatal("a took sessions again before its restart (its drain was undone)")
		}
		// bert logs out: the restart goes ahead, once.
		endSessions(t, bert)
		waitFor(t, 20*time.Second, "a to restart once bert's session ended", func() bool {
			r, err := readRecord(h.dir+"/state", "a")
			return err == nil && r.PID != aPID && !r.Settings.Drain && probeOK(pa)
		})
		// Counted once the pass that restarted a ends (a moment after a answers).
		waitFor(t, 5*time.Second, "alert_actions_total for restart to be 2 (c, then a)", func() bool {
			return a.metric(t, `lucid_rdp_alert_actions_total{action="restart",alert="restart"}`) == "2"
		})
	})

	t.Run("flapping", func(t *testing.T) {
		dPID := h.record("d").PID
		for i := 0; i < 6; i++ {
			above, firing := 0, "1"
			if i%2 == 1 {
				above, firing = 1000, "0"
			}
			h.writeRaw(alertSpec(h, api, alertBlock("flap", "restart", `"d"`, "1h", above)))
			waitFor(t, 10*time.Second, "the agent to see the alert "+map[string]string{"1": "fire", "0": "resolve"}[firing], func() bool {
				return a.metric(t, `lucid_rdp_alert_firing{alert="flap"}`) == firing
			})
		}
		waitFor(t, 10*time.Second, "d to answer", func() bool { return probeOK(pd) })
		restarts := 0
		if h.record("d").PID != dPID {
			restarts = 1
		}
		if got := a.metric(t, `lucid_rdp_alert_actions_total{action="restart",alert="flap"}`); got != "1" || restarts != 1 {
			t.Fatalf("a flapping alert (3 times firing) restarted d %s times (pid changed: %v); the cooldown is 1h: want once", got, restarts == 1)
		}
		if !strings.Contains(a.logs.String(), "alert firing") {
			t.Error("the agent did not log the alert firing")
		}
	})
}

// TestAlertsToAlertmanager: an alert declared in the spec reaches a real
// Alertmanager while it fires, with its labels and summary, and its
// resolution (endsAt set) once an edit makes its condition false; /v1/status
// and the metrics show both.
func TestAlertsToAlertmanager(t *testing.T) {
	am := amtest.Start(t)
	h := newHost(t)
	api := h.base + 19
	spec := func(above int) string {
		return h.agentBlock(api, "") + fmt.Sprintf(`notify "am" {
  type = "alertmanager"
  url  = %q
}
alert "mem" {
  metric   = "host.memory_percent"
  above    = %d
  severity = "warning"
}
`, am, above)
	}
	h.writeRaw(spec(0))
	a := h.startAgent(api)
	filter := "?filter=" + url.QueryEscape(`alertname="mem"`)
	var got []amtest.Alert
	waitFor(t, 15*time.Second, "Alertmanager to list the firing alert", func() bool {
		got = amtest.List(t, am, filter)
		return len(got) == 1
	})
	host, _ := os.Hostname()
	if l := got[0].Labels; l["host"] != host || l["severity"] != "warning" || l["metric"] != "host.memory_percent" {
		t.Errorf("labels %v", l)
	}
	if s := got[0].Annotations["summary"]; !strings.Contains(s, "host.memory_percent is ") || !strings.Contains(s, "above 0") {
		t.Errorf("summary %q does not give the value and threshold", s)
	}
	if !got[0].EndsAt.After(time.Now()) {
		t.Errorf("a firing alert was sent with endsAt %s, already past", got[0].EndsAt)
	}
	if v := a.metric(t, `lucid_rdp_alert_firing{alert="mem"}`); v != "1" {
		t.Errorf("alert_firing{mem} = %q", v)
	}
	if v := a.metric(t, `lucid_rdp_alert_actions_total{action="notify",alert="mem"}`); v != "1" {
		t.Errorf("alert_actions_total{notify,mem} = %q", v)
	}

	h.writeRaw(spec(1000))
	// Alertmanager lists no alert whose endsAt has passed; it counts each it
	// received resolved.
	waitFor(t, 15*time.Second, "Alertmanager to receive the resolution", func() bool {
		return amtest.ReceivedResolved(t, am) == 1 && len(amtest.List(t, am, filter)) == 0
	})
	// The notifier may have sent it before the pass that resolved it ended.
	waitFor(t, 5*time.Second, "alert_firing{mem} to be 0 after it resolved", func() bool {
		return a.metric(t, `lucid_rdp_alert_firing{alert="mem"}`) == "0"
	})
	// Counted once the agent has Alertmanager's answer, a moment after it counted.
	waitFor(t, 5*time.Second, "notifications_total{am,ok} to be 2 (firing, resolved)", func() bool {
		return a.metric(t, `lucid_rdp_notifications_total{notifier="am",result="ok"}`) == "2"
	})
	if al, ok := a.listed(t, "alerts", "mem"); !ok || al["state"] != "inactive" {
		t.Errorf("status shows mem as %v (listed: %v) after it resolved; want inactive", al["state"], ok)
	}

	// It fires again, and the alert is removed from the spec while it fires:
	// Alertmanager hears it end, with the labels it heard it fire with.
	h.writeRaw(spec(0))
	waitFor(t, 15*time.Second, "Alertmanager to list the alert firing again", func() bool { return len(amtest.List(t, am, filter)) == 1 })
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("notify \"am\" {\n  type = \"alertmanager\"\n  url  = %q\n}\n", am))
	waitFor(t, 15*time.Second, "Alertmanager to receive the removed alert resolved", func() bool {
		return amtest.ReceivedResolved(t, am) == 2 && len(amtest.List(t, am, filter)) == 0
	})
}
