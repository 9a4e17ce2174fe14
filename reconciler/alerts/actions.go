package alerts

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Actions of an alert that change servers. notify changes none.
const (
	ActionNotify    = "notify"
	ActionDrain     = "drain"
	ActionRestart   = "restart"
	ActionEvictIdle = "evict_idle"
	ActionRejectNew = "reject_new"
)

// Directive is one thing the reconciler is asked to do to one server because
// an alert fires (or fired: a restart asked for is carried out even if the
// alert resolves meanwhile, and a drain is held for the alert's cooldown).
type Directive struct {
	Alert  string `json:"alert"`
	Action string `json:"action"`
	Server string `json:"server"`
	// Why says what the alert saw, for people: "host.memory_percent is 93.1,
	// above 90".
	Why string `json:"why"`
	// Evict is how many sessions an evict_idle ends at most: down to the
	// threshold for server.sessions and server.sessions_ratio, else one.
	Evict int `json:"evict,omitempty"`
}

// Memory is what alert actions remember between evaluations, and across
// agent restarts (it is saved with the alerts' state): when each alert last
// acted on each server, the restarts asked for and not yet done, and the
// drains (and reject_new) being held.
type Memory struct {
	// Last is when an alert last acted on a server, by "alert/action/server".
	Last map[string]time.Time `json:"last,omitempty"`
	// Restarts are the restarts asked for and not yet done, by server.
	Restarts map[string]Directive `json:"restarts,omitempty"`
	// Holds are the drains and reject_new under way, by "alert/action/server":
	// each is held while its alert fires and for its cooldown from when it
	// began, which is its Last.
	Holds map[string]Directive `json:"holds,omitempty"`
}

func memKey(alert, action, server string) string { return alert + "/" + action + "/" + server }

func (m *Memory) init() {
	if m.Last == nil {
		m.Last = map[string]time.Time{}
	}
	if m.Restarts == nil {
		m.Restarts = map[string]Directive{}
	}
	if m.Holds == nil {
		m.Holds = map[string]Directive{}
	}
}

// Restarted notes that server was restarted (replaced) at now: the restart
// asked of it is done, and its alert's cooldown counts from now (a restart
// that waited out a drain must not be followed by another at once).
func (m *Memory) Restarted(server string, now time.Time) {
	m.init()
	if d, ok := m.Restarts[server]; ok {
		m.Last[memKey(d.Alert, d.Action, server)] = now
	}
	delete(m.Restarts, server)
}

// Decide returns what the firing series ask of the servers of s at now, and
// updates m. It is pure but for m: the same inputs give the same answer.
//
//   - drain and reject_new hold while their series fires, and at least for
//     the alert's cooldown from when they began (a flapping alert does not
//     stop and start a listener in a loop);
//   - restart is asked once when a series fires and again, while it keeps
//     firing, at most once per cooldown; it stays asked until Restarted (or
//     the rule is removed from the spec);
//   - evict_idle acts at most once per cooldown on each server.
//
// An action only ever names servers the spec declares and the alert names:
// the series' own server for a server.* metric, else every server its
// servers globs match.
func Decide(s *spec.Spec, series []Series, m *Memory, now time.Time) []Directive {
	m.init()
	rules := byName(s.Alerts)
	declared := make(map[string]*spec.Server, len(s.Servers))
	for _, srv := range s.Servers {
		declared[srv.Name] = srv
	}
	var out []Directive
	held := map[string]bool{}
	for _, se := range series {
		r := rules[se.Alert]
		if r == nil || se.State != Firing || r.Action == ActionNotify {
			continue
		}
		for _, server := range targets(r, se, s, declared) {
			d := Directive{Alert: r.Name, Action: r.Action, Server: server, Why: Summary(r, se)}
			k := memKey(r.Name, r.Action, server)
			last, acted := m.Last[k]
			due := !acted || now.Sub(last) >= r.Cooldown
			switch r.Action {
			case ActionDrain, ActionRejectNew:
				if _, ok := m.Holds[k]; !ok {
					m.Last[k] = now
				}
				m.Holds[k] = d
				held[k] = true
			case ActionRestart:
				if _, asked := m.Restarts[server]; !asked && due {
					m.Restarts[server] = d
					m.Last[k] = now
				}
			case ActionEvictIdle:
				// Only while the condition holds: during keep_firing_for the
				// value is the last that met it, and counting from it would
				// evict below the threshold.
				if due && se.KeepFiringSince.IsZero() {
					d.Evict = evictCount(r, se, declared[server])
					m.Last[k] = now
					out = append(out, d)
				}
			}
		}
	}
	// Holds whose series no longer fires last out their cooldown.
	for k, h := range m.Holds {
		r := rules[h.Alert]
		switch {
		case held[k]:
		case r == nil || r.Action != h.Action || declared[h.Server] == nil || !r.Watches(h.Server):
			delete(m.Holds, k) // the rule or the server is gone, and with it what it asked
			continue
		case now.Sub(m.Last[k]) >= r.Cooldown:
			delete(m.Holds, k)
			continue
		}
		out = append(out, h)
	}
	for server, d := range m.Restarts {
		if r := rules[d.Alert]; r == nil || r.Action != ActionRestart || declared[server] == nil || !r.Watches(server) {
			// The rule or the server is gone: an edit took back what it asked.
			delete(m.Restarts, server)
			continue
		}
		out = append(out, d)
	}
	// Forget the last actions of rules and servers that are gone.
	for k := range m.Last {
		alert, rest, _ := strings.Cut(k, "/")
		action, server, _ := strings.Cut(rest, "/")
		if r := rules[alert]; r == nil || r.Action != action || declared[server] == nil {
			delete(m.Last, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return a.Alert < b.Alert
	})
	return out
}

// targets are the declared servers an action of r for series se acts on.
func targets(r *spec.Alert, se Series, s *spec.Spec, declared map[string]*spec.Server) []string {
	if se.Server != "" {
		if declared[se.Server] != nil && r.Watches(se.Server) {
			return []string{se.Server}
		}
		return nil
	}
	if len(r.Servers) == 0 {
		return nil // validation requires servers for such a rule; never "all" by omission
	}
	var out []string
	for _, srv := range s.Servers {
		if r.Watches(srv.Name) {
			out = append(out, srv.Name)
		}
	}
	return out
}

// evictCount is how many sessions evict_idle ends on server srv: as many as
// bring server.sessions or server.sessions_ratio down to the threshold, and
// one for any other metric (the next evaluation sees what that freed).
func evictCount(r *spec.Alert, se Series, srv *spec.Server) int {
	if r.Above == nil || se.Server == "" {
		return 1
	}
	switch r.Metric {
	case "server.sessions":
		return max(int(math.Round(se.Value))-int(math.Floor(*r.Above)), 1)
	case "server.sessions_ratio":
		if srv == nil || srv.Sessions.Max <= 0 {
			return 1
		}
		m := float64(srv.Sessions.Max)
		return max(int(math.Round(se.Value*m))-int(math.Floor(*r.Above*m)), 1)
	}
	return 1
}

// byName indexes rules by name.
func byName(rules []*spec.Alert) map[string]*spec.Alert {
	out := make(map[string]*spec.Alert, len(rules))
	for _, r := range rules {
		out[r.Name] = r
	}
	return out
}
