package agent

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func ses(user string, x int, started time.Time, state string, idle time.Duration) drivers.Session {
	return drivers.Session{Server: "s", User: user, Display: 100 + x, State: state, PID: 5000 + x, StartTime: uint64(x),
		XPID: 4000 + x, XStartTime: uint64(x), StartedAt: started, Idle: drivers.Duration(idle), IdleSource: idleSourceX}
}

func reasons(cs []closure) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		r := c.reason
		if c.byXrdp {
			r += " (by xrdp)"
		} else if !c.end {
			r += " (connection)"
		}
		out[c.session.User] = r
	}
	return out
}

var lookedS = map[string]bool{"s": true}

// Past max: the newest session that started after the agent saw the limit
// is ended; those that were there before are never ended for it.
func TestEnforceMaxNewestFirst(t *testing.T) {
	e := newEnforcer()
	lim := map[string]limits{"s": {max: 1}}
	old1 := ses("old1", 1, t0.Add(-time.Hour), drivers.SessionActive, 0)
	old2 := ses("old2", 2, t0.Add(-time.Minute), drivers.SessionDisconnected, 0)
	todo, next := e.decide(t0, lim, lookedS, []drivers.Session{old1, old2})
	if len(todo) != 0 {
		t.Fatalf("sessions there before the limit was seen were closed: %v", reasons(todo))
	}
	if !next.Equal(t0.Add(enforceEvery)) {
		t.Fatalf("next look %s; want in %s while at max", next, enforceEvery)
	}
	n1 := ses("new1", 3, t0.Add(2*time.Second), drivers.SessionActive, 0)
	n2 := ses("new2", 4, t0.Add(3*time.Second), drivers.SessionActive, 0)
	todo, _ = e.decide(t0.Add(4*time.Second), lim, lookedS, []drivers.Session{old1, old2, n2, n1})
	if want := map[string]string{"new1": "max", "new2": "max"}; !maps.Equal(reasons(todo), want) || todo[0].session.User != "new2" {
		t.Fatalf("closures %v (first %s); want %v, newest first", reasons(todo), todo[0].session.User, want)
	}

	// Raised to 3 with three sessions: nothing to do. Lowered to 1 again:
	// the sessions of then are kept.
	lim["s"] = limits{max: 3}
	if todo, _ := e.decide(t0.Add(5*time.Second), lim, lookedS, []drivers.Session{old1, old2, n1}); len(todo) != 0 {
		t.Fatalf("closures at max = 3: %v", reasons(todo))
	}
	lim["s"] = limits{max: 1}
	if todo, _ := e.decide(t0.Add(6*time.Second), lim, lookedS, []drivers.Session{old1, old2, n1}); len(todo) != 0 {
		t.Fatalf("lowering max ended sessions: %v", reasons(todo))
	}
	if todo, _ := e.decide(t0.Add(6*time.Second), lim, map[string]bool{"other": true}, nil); len(todo) != 0 || len(e.sessions) != 3 {
		t.Fatalf("a look at another server touched s: closures %v, %d sessions remembered (want 3)", reasons(todo), len(e.sessions))
	}
}

func TestEnforceIdle(t *testing.T) {
	e := newEnforcer()
	lim := map[string]limits{"s": {max: 10, idle: time.Minute}}
	idle := ses("idle", 1, t0.Add(-time.Hour), drivers.SessionActive, 61*time.Second)
	busy := ses("busy", 2, t0.Add(-time.Hour), drivers.SessionActive, 20*time.Second)
	unknown := ses("unknown", 3, t0.Add(-time.Hour), drivers.SessionActive, 0)
	unknown.IdleSource = "unknown: no cookie"
	gone := ses("gone", 4, t0.Add(-time.Hour), drivers.SessionDisconnected, 10*time.Hour)
	back := ses("back", 5, t0.Add(-time.Hour), drivers.SessionActive, 10*time.Hour)
	back.ConnectedAt = t0.Add(-50 * time.Second) // reconnected, no input since
	todo, next := e.decide(t0, lim, lookedS, []drivers.Session{idle, busy, unknown, gone, back})
	if want := map[string]string{"idle": "idle (connection)"}; !maps.Equal(reasons(todo), want) {
		t.Fatalf("closures %v; want %v", reasons(todo), want)
	}
	if want := t0.Add(10 * time.Second); !next.Equal(want) {
		t.Fatalf("next look %s; want %s, when back's connection could be idle a minute", next, want)
	}
}

func TestEnforceDisconnected(t *testing.T) {
	e := newEnforcer()
	lim := map[string]limits{"s": {max: 10, disconnected: time.Minute}}
	a := ses("a", 1, t0.Add(-time.Hour), drivers.SessionActive, 0)
	b := ses("b", 2, t0.Add(-time.Hour), drivers.SessionActive, 0)
	c := ses("c", 3, t0.Add(-time.Hour), drivers.SessionActive, 0)
	e.decide(t0, lim, lookedS, []drivers.Session{a, b, c})
	a.State, b.State, c.State = drivers.SessionDisconnected, drivers.SessionDisconnected, drivers.SessionDisconnected
	_, next := e.decide(t0.Add(5*time.Second), lim, lookedS, []drivers.Session{a, b, c})
	if want := t0.Add(5*time.Second + time.Minute + discSlack); !next.Equal(want) {
		t.Fatalf("next look %s; want %s", next, want)
	}
	// c's desktop ends early: not counted. a is ended by xrdp on time.
	if todo, _ := e.decide(t0.Add(20*time.Second), lim, lookedS, []drivers.Session{a, b}); len(todo) != 0 {
		t.Fatalf("a session that ended 15 s after it lost its client counted: %v", reasons(todo))
	}
	todo, _ := e.decide(t0.Add(62*time.Second), lim, lookedS, []drivers.Session{b})
	if want := map[string]string{"a": "disconnected (by xrdp)"}; !maps.Equal(reasons(todo), want) {
		t.Fatalf("closures %v; want %v", reasons(todo), want)
	}
	// xrdp leaves b running: the agent ends it, after the slack.
	if todo, _ := e.decide(t0.Add(70*time.Second), lim, lookedS, []drivers.Session{b}); len(todo) != 0 {
		t.Fatalf("ended before the slack: %v", reasons(todo))
	}
	todo, _ = e.decide(t0.Add(76*time.Second), lim, lookedS, []drivers.Session{b})
	if want := map[string]string{"b": "disconnected"}; !maps.Equal(reasons(todo), want) || !todo[0].end {
		t.Fatalf("closures %v; want %v", reasons(todo), want)
	}
	// A session first seen disconnected is given the whole limit from then,
	// also when its server was looked at long before.
	e2 := newEnforcer()
	e2.decide(t0.Add(-5*time.Minute), lim, lookedS, nil)
	if todo, _ := e2.decide(t0, lim, lookedS, []drivers.Session{b}); len(todo) != 0 {
		t.Fatalf("a session first seen disconnected was ended at once: %v", reasons(todo))
	}
	if todo, _ := e2.decide(t0.Add(30*time.Second), lim, lookedS, nil); len(todo) != 0 {
		t.Fatalf("a session first seen disconnected 30 s before it ended counted: %v", reasons(todo))
	}
}

// BenchmarkDecide: one look at 1,000 servers with 2 sessions each (the
// spec's most servers), as a pass makes it.
func BenchmarkDecide(b *testing.B) {
	lim, looked := map[string]limits{}, map[string]bool{}
	var sessions []drivers.Session
	for i := range 1000 {
		name := fmt.Sprintf("s%d", i)
		lim[name], looked[name] = limits{max: 4, idle: time.Minute, disconnected: time.Hour}, true
		for j := range 2 {
			s := ses("u", i*2+j, t0.Add(-time.Hour), drivers.SessionActive, time.Second)
			s.Server = name
			sessions = append(sessions, s)
		}
	}
	e := newEnforcer()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.decide(t0.Add(time.Duration(i)*time.Second), lim, looked, sessions)
	}
}

// A leftover is due once it has been one, the same process, for
// leftoverGrace; one that goes away (or serves somebody again) starts over.
func TestLeftoversDue(t *testing.T) {
	e := newEnforcer()
	conn := drivers.Leftover{Server: "s", PID: 10, StartTime: 7}
	orphan := drivers.Leftover{Server: "s", PID: 11, StartTime: 8}
	other := drivers.Leftover{Server: "t", PID: 12, StartTime: 9}
	due, next := e.leftoversDue(t0, lookedS, []drivers.Leftover{conn, other})
	if len(due) != 0 || !next.Equal(t0.Add(leftoverGrace)) {
		t.Fatalf("first sight: due %v, next %s; want none, next at +%s", due, next, leftoverGrace)
	}
	if _, ok := e.leftovers[other]; ok {
		t.Fatal("a leftover of a server not looked at was noted")
	}
	due, next = e.leftoversDue(t0.Add(4*time.Second), lookedS, []drivers.Leftover{conn, orphan})
	if len(due) != 0 || !next.Equal(t0.Add(leftoverGrace)) {
		t.Fatalf("at +4s: due %v, next %s", due, next)
	}
	// The same pid with another start time is another process: not due.
	reused := conn
	reused.StartTime++
	due, next = e.leftoversDue(t0.Add(leftoverGrace), lookedS, []drivers.Leftover{reused, orphan})
	if len(due) != 0 || !next.Equal(t0.Add(4*time.Second+leftoverGrace)) {
		t.Fatalf("at +grace with the pid reused: due %v, next %s", due, next)
	}
	due, _ = e.leftoversDue(t0.Add(4*time.Second+leftoverGrace), lookedS, []drivers.Leftover{reused, orphan})
	if len(due) != 1 || due[0] != orphan {
		t.Fatalf("at +4s+grace: due %v; want the one seen at +4s", due)
	}
	// Gone, then back: its time starts again.
	e.leftoversDue(t0.Add(20*time.Second), lookedS, nil)
	if due, _ := e.leftoversDue(t0.Add(21*time.Second), lookedS, []drivers.Leftover{orphan}); len(due) != 0 {
		t.Fatalf("a leftover seen again after a look without it was due at once: %v", due)
	}
}

// An idle_timeout under a minute is enforced as a minute, as the spec warns.
func TestLimitsIdleAtLeastAMinute(t *testing.T) {
	s := &spec.Spec{Servers: []*spec.Server{
		{Name: "short", Sessions: spec.Sessions{IdleTimeout: 30 * time.Second}},
		{Name: "long", Sessions: spec.Sessions{IdleTimeout: 90 * time.Second}},
		{Name: "none"},
	}}
	got := limitsOf(s)
	if got["short"].idle != time.Minute || got["long"].idle != 90*time.Second || got["none"].idle != 0 {
		t.Fatalf("idle limits %v", got)
	}
}

// A disconnected orphan (its sesman is gone: nobody can reconnect to it) is
// ended once it has been seen so for leftoverGrace; a connected orphan, and a
// disconnected session its sesman knows, are kept. No limit is needed.
func TestEnforceOrphans(t *testing.T) {
	e := newEnforcer()
	lim := map[string]limits{"s": {}}
	gone := ses("gone", 1, t0.Add(-time.Hour), drivers.SessionDisconnected, 0)
	gone.Orphan = true
	on := ses("on", 2, t0.Add(-time.Hour), drivers.SessionActive, 0)
	on.Orphan = true
	known := ses("known", 3, t0.Add(-time.Hour), drivers.SessionDisconnected, 0)
	all := []drivers.Session{gone, on, known}
	todo, next := e.decide(t0, lim, lookedS, all)
	if len(todo) != 0 || !next.Equal(t0.Add(leftoverGrace)) {
		t.Fatalf("first sight: %v, next %s; want nothing yet, a look at +%s", reasons(todo), next, leftoverGrace)
	}
	todo, _ = e.decide(t0.Add(leftoverGrace), lim, lookedS, all)
	if want := map[string]string{"gone": reasonOrphan}; !maps.Equal(reasons(todo), want) || !todo[0].end {
		t.Fatalf("at +%s: %v; want %v, ended", leftoverGrace, reasons(todo), want)
	}
}
