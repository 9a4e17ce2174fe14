package agent

import (
	"context"
	"sort"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/xidle"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// idleSourceX is the idle source idle_timeout trusts: the X server's own
// count of user input.
const idleSourceX = xidle.Source

// Session limits, as the agent enforces them on both drivers.
//
//   - sessions.max: a server's own sesman refuses a login beyond it (the
//     agent counts those from its log). A session that still gets past it
//     (a sesman restarted for a new max knows nothing of the sessions its
//     predecessor started) is ended, newest first, at the next look. Sessions
//     that were there when the agent first saw the limit are never ended for
//     it: lowering max takes effect without ending any session.
//   - idle_timeout: an active session whose user has given no keyboard or
//     mouse input for that long (as its X server says, see drivers.Session)
//     has its connection closed. The session goes on, disconnected; its user
//     can log in again to get it back, and disconnected_timeout applies.
//   - disconnected_timeout: xrdp itself ends a session disconnected this long
//     (it is in the sesman.ini of every server, which works without the
//     agent too); the agent counts each (one it last saw disconnected that
//     has gone, once the limit could have passed), and ends one xrdp left
//     running past its limit (a session started before the limit was set).
//
// Every closure is counted in sessions_rejected_total{server,reason} and
// logged with server, user and client.

// enforceEvery is how often the agent looks at the sessions of servers that
// have any, between passes: a session past max is closed within it.
const enforceEvery = time.Second

// discSlack is how long past disconnected_timeout the agent waits for xrdp
// to end a session before it ends the session itself.
const discSlack = 10 * time.Second

// minIdleTimeout is the least idle_timeout, as in xrdp (IdleTimeLimit).
const minIdleTimeout = time.Minute

// closeGrace is how long a closed process gets to exit before SIGKILL.
const closeGrace = 3 * time.Second

// leftoverGrace is how long a process must stay a leftover (drivers.Leftover),
// or a session an orphan and disconnected, before the agent ends it: an xrdp
// process whose client just went needs a moment to exit by itself.
const leftoverGrace = 10 * time.Second

// reasonOrphan is the closure of a disconnected orphan session (see
// drivers.Session.Orphan): it is counted as a leftover, kind "session", not
// as a rejection.
const reasonOrphan = "orphan"

// Kinds of leftovers_cleaned_total.
const (
	kindConnection = "connection"
	kindSession    = "session"
)

// limits are one server's session limits.
type limits struct {
	max          int
	idle         time.Duration
	disconnected time.Duration
}

func limitsOf(s *spec.Spec) map[string]limits {
	out := make(map[string]limits, len(s.Servers))
	for _, srv := range s.Servers {
		l := limits{max: srv.Sessions.Max, idle: srv.Sessions.IdleTimeout, disconnected: srv.Sessions.DisconnectedTimeout}
		if l.idle > 0 {
			l.idle = max(l.idle, minIdleTimeout) // the spec warns of it
		}
		out[srv.Name] = l
	}
	return out
}

// sessionKey identifies a session: its X server's pid and start time.
type sessionKey struct {
	server string
	xpid   int
	xstart uint64
}

func keyOf(s drivers.Session) sessionKey { return sessionKey{s.Server, s.XPID, s.XStartTime} }

// closure is a session the enforcer ends, or whose connection it closes.
type closure struct {
	session drivers.Session
	// reason is the sessions_rejected_total label: max, idle, disconnected.
	reason string
	// end: end the session; else close its connection only.
	end bool
	// byXrdp: xrdp ended it already; it is only counted.
	byXrdp bool
}

// tracked is what the enforcer remembers of a session between looks.
type tracked struct {
	last drivers.Session
	// discEarliest and discLatest bound when a disconnected session lost its
	// client: after the last look that saw it active (or the first look, if
	// none did), and before the first look that saw it disconnected.
	discEarliest, discLatest time.Time
}

// enforcer holds what limit enforcement must remember between looks. Only
// the agent's loop uses it.
type enforcer struct {
	sessions map[sessionKey]*tracked
	// leftovers holds when each leftover was first seen.
	leftovers map[drivers.Leftover]time.Time
	// maxSince is when the agent first saw each server's current max.
	maxSince map[string]maxMark
	// lastLook is when each server's sessions were last looked at.
	lastLook map[string]time.Time
}

type maxMark struct {
	max   int
	since time.Time
}

func newEnforcer() *enforcer {
	return &enforcer{sessions: map[sessionKey]*tracked{}, leftovers: map[drivers.Leftover]time.Time{},
		maxSince: map[string]maxMark{}, lastLook: map[string]time.Time{}}
}

// decide takes a look at the sessions of the servers in looked (all of
// theirs: a session of theirs that is missing has ended) and returns what to
// close, and when the servers need their next look (zero: at the next pass).
func (e *enforcer) decide(now time.Time, lim map[string]limits, looked map[string]bool, sessions []drivers.Session) (todo []closure, next time.Time) {
	byServer := map[string][]drivers.Session{}
	for _, s := range sessions {
		byServer[s.Server] = append(byServer[s.Server], s)
	}
	soon := func(t time.Time) { next = earliest(next, t) }
	present := make(map[sessionKey]bool, len(sessions))
	for server := range looked {
		prev, seenBefore := e.lastLook[server]
		if !seenBefore {
			prev = now
		}
		e.lastLook[server] = now
		for _, s := range byServer[server] {
			k := keyOf(s)
			present[k] = true
			t := e.sessions[k]
			if t == nil {
				t = &tracked{}
				e.sessions[k] = t
			}
			switch {
			case s.State == drivers.SessionActive:
				t.discEarliest, t.discLatest = time.Time{}, time.Time{}
			case t.discLatest.IsZero():
				t.discEarliest, t.discLatest = prev, now
				if t.last.Server == "" {
					t.discEarliest = now // first seen disconnected: since when is unknown
				}
			}
			t.last = s
		}
	}
	// Sessions of the looked servers that ended since their last look.
	for k, t := range e.sessions {
		if !looked[k.server] || present[k] {
			continue
		}
		delete(e.sessions, k)
		if l := lim[k.server]; l.disconnected > 0 && t.last.State == drivers.SessionDisconnected &&
			now.Sub(t.discEarliest) >= l.disconnected {
			todo = append(todo, closure{session: t.last, reason: "disconnected", end: true, byXrdp: true})
		}
	}
	for server := range looked {
		cur := byServer[server]
		chosen := map[sessionKey]bool{}
		// Orphans: no login can reach them again once disconnected.
		for _, s := range cur {
			if !s.Orphan || s.State != drivers.SessionDisconnected {
				continue
			}
			if at := e.sessions[keyOf(s)].discLatest.Add(leftoverGrace); now.Before(at) {
				soon(at)
			} else {
				todo = append(todo, closure{session: s, reason: reasonOrphan, end: true})
				chosen[keyOf(s)] = true
			}
		}
		l, declared := lim[server]
		if !declared {
			continue
		}
		if mk, ok := e.maxSince[server]; !ok || mk.max != l.max {
			e.maxSince[server] = maxMark{l.max, now}
		}
		// Past max: newest first, never one that was there before the limit.
		if l.max > 0 && len(cur)-len(chosen) > l.max {
			byAge := append([]drivers.Session(nil), cur...)
			sort.SliceStable(byAge, func(i, j int) bool { return byAge[i].StartedAt.Before(byAge[j].StartedAt) })
			excess := len(byAge) - len(chosen) - l.max
			for i := len(byAge) - 1; i >= 0 && excess > 0; i-- {
				if s := byAge[i]; !chosen[keyOf(s)] && s.StartedAt.After(e.maxSince[server].since) {
					todo = append(todo, closure{session: s, reason: "max", end: true})
					chosen[keyOf(s)] = true
					excess--
				}
			}
		}
		if l.max > 0 && len(cur) >= l.max {
			soon(now.Add(enforceEvery)) // the next login would be past max
		}
		for _, s := range cur {
			if chosen[keyOf(s)] {
				continue
			}
			t := e.sessions[keyOf(s)]
			switch {
			case s.State == drivers.SessionActive && l.idle > 0 && s.IdleSource == idleSourceX:
				// A connection gets the whole limit: one that just came back
				// to a session idle for an hour is not idle yet.
				idle := time.Duration(s.Idle)
				if !s.ConnectedAt.IsZero() {
					idle = min(idle, now.Sub(s.ConnectedAt))
				}
				if idle >= l.idle {
					todo = append(todo, closure{session: s, reason: "idle"})
				} else {
					soon(now.Add(l.idle - idle))
				}
			case s.State == drivers.SessionDisconnected && l.disconnected > 0:
				if now.Sub(t.discLatest) >= l.disconnected+discSlack {
					todo = append(todo, closure{session: s, reason: "disconnected", end: true})
				} else {
					soon(t.discLatest.Add(l.disconnected + discSlack))
				}
			}
		}
	}
	return todo, next
}

// leftoversDue takes a look at the leftovers of the servers in looked (all of
// theirs) and returns those that have been left over for leftoverGrace, and
// when the next will be (zero: none is waiting).
func (e *enforcer) leftoversDue(now time.Time, looked map[string]bool, leftovers []drivers.Leftover) (due []drivers.Leftover, next time.Time) {
	present := make(map[drivers.Leftover]bool, len(leftovers))
	for _, l := range leftovers {
		if !looked[l.Server] {
			continue
		}
		present[l] = true
		first, ok := e.leftovers[l]
		if !ok {
			first = now
			e.leftovers[l] = now
		}
		if now.Sub(first) >= leftoverGrace {
			due = append(due, l)
		} else {
			next = earliest(next, first.Add(leftoverGrace))
		}
	}
	for l := range e.leftovers {
		if looked[l.Server] && !present[l] {
			delete(e.leftovers, l) // it exited, or serves somebody again
		}
	}
	return due, next
}

// forget drops sessions that ended otherwise (a drain_timeout that passed).
func (e *enforcer) forget(sessions []drivers.Session) {
	for _, s := range sessions {
		delete(e.sessions, keyOf(s))
	}
}

// prune drops what it knows of servers that are gone.
func (e *enforcer) prune(exists func(server string) bool) {
	for k := range e.sessions {
		if !exists(k.server) {
			delete(e.sessions, k)
		}
	}
	for l := range e.leftovers {
		if !exists(l.Server) {
			delete(e.leftovers, l)
		}
	}
	for s := range e.maxSince {
		if !exists(s) {
			delete(e.maxSince, s)
		}
	}
	for s := range e.lastLook {
		if !exists(s) {
			delete(e.lastLook, s)
		}
	}
}

// what each reason means, for the log.
var closureWhy = map[string]string{
	"max":          "session ended: it was past sessions.max (it got past the server's sesman)",
	"idle":         "connection closed: idle_timeout passed with no input; the session goes on, disconnected",
	"disconnected": "session ended: disconnected_timeout passed",
	reasonOrphan:   "session ended: it was disconnected and no sesman knew it any more (its sesman was restarted), so nobody could reconnect to it",
}

// enforce acts on one look at the sessions of the servers in looked: it
// closes what the limits say, counts and logs each closure, and returns when
// those servers need their next look (zero: the next pass will do).
func (a *Agent) enforce(ctx context.Context, s *spec.Spec, looked map[string]bool, sessions []drivers.Session, leftovers []drivers.Leftover) time.Time {
	now := time.Now()
	todo, next := a.enf.decide(now, limitsOf(s), looked, sessions)
	due, nextLeft := a.enf.leftoversDue(now, looked, leftovers)
	next = earliest(next, nextLeft)
	acted := false
	for _, l := range due {
		ended, err := drivers.EndLeftover(ctx, l, closeGrace)
		if err != nil {
			a.log.Warn("could not end a leftover", "server", l.Server, "pid", l.PID, "error", err)
		}
		if !ended {
			continue
		}
		a.log.Info("ended an xrdp connection process whose client was gone", "server", l.Server, "pid", l.PID)
		a.m.leftovers.WithLabelValues(l.Server, kindConnection).Inc()
		acted = true
	}
	for _, c := range todo {
		ses := c.session
		kv := []any{"server", ses.Server, "user", ses.User, "client", ses.Client, "display", ses.Display}
		switch {
		case c.byXrdp:
			a.log.Info("session ended by xrdp: disconnected_timeout passed", kv...)
		case c.end:
			ended, err := drivers.EndSession(ctx, ses, closeGrace)
			if err != nil {
				a.log.Warn("could not end a session", append(kv, "reason", c.reason, "error", err)...)
			}
			if !ended {
				continue
			}
			a.enf.forget([]drivers.Session{ses})
			a.log.Info(closureWhy[c.reason], kv...)
			acted = true
		default:
			closed, err := drivers.CloseConnection(ctx, ses, closeGrace)
			if err != nil {
				a.log.Warn("could not close a connection", append(kv, "reason", c.reason, "error", err)...)
			}
			if !closed {
				continue
			}
			a.log.Info(closureWhy[c.reason], append(kv, "idle", ses.Idle.String())...)
			acted = true
		}
		if c.reason == reasonOrphan {
			a.m.leftovers.WithLabelValues(ses.Server, kindSession).Inc()
		} else {
			a.m.rejected.WithLabelValues(ses.Server, c.reason).Inc()
		}
	}
	if acted {
		a.poke() // status and metrics show the sessions as they are now
	}
	return next
}

// lookAgain looks at the sessions of the servers that had any at the last
// look, between passes, and enforces their limits.
func (a *Agent) lookAgain(ctx context.Context) {
	if len(a.withSessions) == 0 {
		a.nextLook = time.Time{}
		return
	}
	before := a.withSessions
	a.enforceOn(ctx, a.current(), before, a.rec.Sessions(ctx, before))
	// A server whose last session ended may have a change waiting for it (a
	// replace or removal after a drain, a restart an alert asked for): a
	// pass now, rather than at the next resync.
	if len(a.withSessions) < len(before) {
		a.poke()
	}
}

// limitSessions enforces the session limits on what a pass observed, less
// the sessions its apply ended (counted as drain already).
func (a *Agent) limitSessions(ctx context.Context, s *spec.Spec, obs *reconciler.Observed, res *reconciler.Result) {
	gone := map[sessionKey]bool{}
	for _, o := range res.Outcomes {
		a.enf.forget(o.Ended)
		for _, ses := range o.Ended {
			gone[keyOf(ses)] = true
		}
	}
	sessions := make([]drivers.Session, 0, len(obs.Sessions))
	for _, ses := range obs.Sessions {
		if !gone[keyOf(ses)] {
			sessions = append(sessions, ses)
		}
	}
	ours := make(map[string]bool, len(obs.Instances))
	for _, in := range obs.Instances {
		ours[in.Name] = true
	}
	a.enf.prune(func(server string) bool { return ours[server] })
	a.enforceOn(ctx, s, obs.Instances, drivers.SessionLook{Sessions: sessions, Leftovers: obs.Leftovers, Unseen: obs.SessionsUnseen})
}

// enforceOn enforces the limits on the sessions look found of instances (all
// of theirs), cleans up their leftovers, and notes when to look again, and at
// which of them: those that have sessions or leftovers, or could not be
// looked at (their sessions are not taken for ended).
func (a *Agent) enforceOn(ctx context.Context, s *spec.Spec, instances []drivers.Instance, look drivers.SessionLook) {
	looked := make(map[string]bool, len(instances))
	has := map[string]bool{}
	for _, in := range instances {
		if _, unseen := look.Unseen[in.Name]; unseen {
			has[in.Name] = true
		} else {
			looked[in.Name] = true
		}
	}
	for _, ses := range look.Sessions {
		has[ses.Server] = true
	}
	for _, l := range look.Leftovers {
		has[l.Server] = true
	}
	a.nextLook = a.enforce(ctx, s, looked, look.Sessions, look.Leftovers)
	if a.waitingChanges { // a change waits for sessions to end: watch for it
		a.nextLook = earliest(a.nextLook, time.Now().Add(waitingLookEvery))
	}
	var withSessions []drivers.Instance
	for _, in := range instances {
		if has[in.Name] {
			withSessions = append(withSessions, in)
		}
	}
	a.withSessions = withSessions
}
