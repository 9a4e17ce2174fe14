package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/xidle"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Action is what a Change does to a server.
type Action string

const (
	// Create starts a server that is not running.
	Create Action = "create"
	// Replace stops a server and starts it again with a new config.
	Replace Action = "replace"
	// Update changes settings that need no restart.
	Update Action = "update"
	// Delete stops a server with no sessions and forgets it.
	Delete Action = "delete"
	// Drain stops a server's listener; its live sessions go on until they end
	// or its drain_timeout passes.
	Drain Action = "drain"
	// Evict ends the idlest sessions of a server, for an evict_idle alert.
	Evict Action = "evict"
)

// Change is one server's part of a Plan.
type Change struct {
	Server string `json:"server"`
	Driver string `json:"driver"`
	Action Action `json:"action"`
	// Reason says why: the fields that force a replace, or what was found.
	Reason string `json:"reason,omitempty"`
	// Sessions is the live session count of the server now.
	Sessions int `json:"sessions"`
	// Before is the server as observed (nil for a create from nothing).
	Before *drivers.Instance `json:"before"`
	// After is the server as it will be (nil for delete and drain).
	After *drivers.Desired `json:"after"`
	// End lists the live sessions the change ends: those of a server whose
	// drain_timeout has passed, and those an evict_idle alert ends. No other
	// change ends a session.
	End []drivers.Session `json:"end_sessions,omitempty"`
	// Alert names the alert that asked for the change, when one did.
	Alert string `json:"alert,omitempty"`
	// EndFor names the evict_idle alert that End is for, when it is.
	EndFor string `json:"end_for,omitempty"`
	// Live lists the live sessions of the server that the change leaves
	// running (a listener restart, a drain, an update).
	Live []drivers.Session `json:"session_list,omitempty"`
	// Then is set on a drain that a replace follows: the server must be
	// replaced, its driver cannot do that without ending its sessions, so it
	// takes no new ones until they end or its drain_timeout passes.
	Then Action `json:"then,omitempty"`
	// Diffs are the fields that change, for people to read.
	Diffs []Diff `json:"-"`
}

// Diff is one field that a change alters.
type Diff struct {
	Field         string
	Before, After string
	// ForcesReplacement is true for fields that need a restart.
	ForcesReplacement bool
}

// Problem is a server the plan cannot converge, and why. Problems never stop
// the other servers' changes.
type Problem struct {
	Server string `json:"server"`
	Error  string `json:"error"`
}

// Note is something a person should know that is not a change, such as a
// server still draining.
type Note struct {
	Server string `json:"server"`
	Note   string `json:"note"`
}

// Summary counts changes by kind. Drains count as deletes.
type Summary struct {
	Create  int `json:"create"`
	Replace int `json:"replace"`
	Update  int `json:"update"`
	Delete  int `json:"delete"`
	// Evict counts the sessions evict_idle alerts end.
	Evict int `json:"evict,omitempty"`
}

// Plan is what apply would do, as computed by MakePlan.
type Plan struct {
	FormatVersion string `json:"format_version"`
	// Host is the host of a fleet spec the plan is for ("" for a one-host
	// spec): a fleet plan checks that each agent planned as the host it asked.
	Host     string    `json:"host,omitempty"`
	SpecHash string    `json:"spec_hash"`
	Changes  []Change  `json:"changes"`
	Problems []Problem `json:"errors,omitempty"`
	Notes    []Note    `json:"notes,omitempty"`
	Summary  Summary   `json:"summary"`
	// Ports is every server's port once the plan is applied.
	Ports map[string]int `json:"ports,omitempty"`
	// Waiting counts the replaces that wait for live sessions to end (see
	// holdReplace); each has a note.
	Waiting int `json:"waiting,omitempty"`
	// Draining carries on the drains under way when the plan was made.
	Draining map[string]time.Time `json:"draining,omitempty"`
	// WakeAt is when this plan would next change by the clock alone: the
	// earliest drain_timeout still to pass (zero when none).
	WakeAt time.Time `json:"-"`
	// stateCorrupt: the observation found state.json unreadable, so apply
	// keeps it aside before it writes a new one.
	stateCorrupt bool
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// SpecHash identifies a spec's exact bytes.
func SpecHash(s *spec.Spec) string {
	sum := sha256.Sum256(s.Source)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// MakePlan computes what it takes to turn obs into s. It is a pure function:
// no I/O, no clock, the same answer for the same inputs. now is only used to
// tell whether a drain has passed its drain_timeout.
func MakePlan(s *spec.Spec, obs *Observed, now time.Time) *Plan {
	p := &Plan{FormatVersion: "1", Host: s.Host, SpecHash: SpecHash(s), Changes: []Change{}, Ports: map[string]int{}, stateCorrupt: obs.StateProblem != ""}
	ix := newIndex(s, obs)
	ports, portProblems := allocate(s, obs, ix)

	for _, srv := range s.Servers {
		if msg, down := obs.DriverErrors[srv.Driver]; down {
			p.problem(srv.Name, fmt.Sprintf("%s driver unavailable: %s", srv.Driver, msg))
			keepPort(p, obs, ix, srv.Name, ports)
			continue
		}
		if msg, bad := portProblems[srv.Name]; bad {
			p.problem(srv.Name, msg)
			keepPort(p, obs, ix, srv.Name, ports)
			continue
		}
		if why, unseen := obs.SessionsUnseen[srv.Name]; unseen {
			p.problem(srv.Name, unseenProblem(why))
			keepPort(p, obs, ix, srv.Name, ports)
			continue
		}
		want := drivers.DesiredFor(srv, ports[srv.Name])
		p.Ports[srv.Name] = want.Config.Port
		in := ix.instance(srv.Name)
		sessions := len(ix.sessions[srv.Name])
		switch {
		case in == nil:
			p.add(Change{Server: srv.Name, Driver: srv.Driver, Action: Create, After: &want, Diffs: createDiffs(want)})
		case in.Driver != srv.Driver:
			reason := fmt.Sprintf("driver: %s -> %s", in.Driver, srv.Driver)
			diffs := []Diff{{Field: "driver", Before: in.Driver, After: srv.Driver, ForcesReplacement: true}}
			hold, end := p.holdReplace(obs, ix, in, sessions, reason, diffs, now, "")
			if hold {
				break
			}
			p.add(Change{Server: srv.Name, Driver: srv.Driver, Action: Replace, Before: in, After: &want, Sessions: sessions, End: end,
				Reason: reason + endReason(end, in), Diffs: diffs})
		case in.State != drivers.StateRunning:
			reason := "not running"
			if in.Detail != "" {
				reason += ": " + in.Detail
			}
			p.add(Change{Server: srv.Name, Driver: srv.Driver, Action: Create, Before: in, After: &want, Reason: reason, Sessions: sessions, Diffs: createDiffs(want)})
		default:
			cfg := configDiffs(in.Config, want.Config)
			// Equal hashes of the same version mean equal configs; a hash of
			// another version (an older lucid-rdp) is judged by its fields alone.
			if in.Hash == want.Config.Hash() {
				cfg = nil
			}
			acts := ix.actions[srv.Name]
			restart, asked := acts[alerts.ActionRestart]
			switch {
			case len(cfg) > 0:
				hold, end := p.holdReplace(obs, ix, in, sessions, reasonOf(cfg), cfg, now, "")
				if hold {
					break
				}
				p.add(Change{Server: srv.Name, Driver: srv.Driver, Action: Replace, Before: in, After: &want, Sessions: sessions, End: end,
					Reason: reasonOf(cfg) + endReason(end, in), Diffs: append(cfg, settingsDiffs(in.Settings, want.Settings)...)})
			case asked:
				// A restart an alert asked for drains first when the server
				// has sessions, whatever its driver (see alerts.Decide).
				reason := fmt.Sprintf("alert %s asks for a restart: %s", restart.Alert, restart.Why)
				hold, end := p.holdReplace(obs, ix, in, sessions, reason, nil, now, restart.Alert)
				if hold {
					break
				}
				p.add(Change{Server: srv.Name, Driver: srv.Driver, Action: Replace, Before: in, After: &want, Sessions: sessions, End: end,
					Alert: restart.Alert, Reason: reason + endReason(end, in), Diffs: settingsDiffs(in.Settings, want.Settings)})
			default:
				why := alertSettings(&want.Settings, acts, sessions)
				c := Change{Server: srv.Name, Driver: srv.Driver, Action: Update, Before: in, After: &want, Sessions: sessions}
				if set := settingsDiffs(in.Settings, want.Settings); len(set) > 0 {
					c.Reason, c.Diffs = reasonOf(set), set
					if why.alert != "" {
						c.Reason, c.Alert = why.text, why.alert
					}
				}
				if ev, ok := acts[alerts.ActionEvictIdle]; ok {
					if c.End = evictees(ix.sessions[srv.Name], ev.Evict); len(c.End) > 0 {
						c.EndFor = ev.Alert
						why := fmt.Sprintf("alert %s: %s; it ends the idlest %s", ev.Alert, ev.Why, describeSessions(len(c.End)))
						if c.Diffs == nil {
							c.Action, c.After, c.Alert, c.Reason = Evict, nil, ev.Alert, why
						} else {
							c.Reason += "; " + why
						}
					}
				}
				if c.Diffs != nil || c.End != nil {
					p.add(c)
				}
			}
		}
	}

	if obs.StateProblem != "" {
		p.Notes = append(p.Notes, Note{Server: "state", Note: obs.StateProblem +
			"; ports are taken from the running servers and drains start over; apply keeps the file as state.json.corrupt"})
	}
	// What the drivers say an operator must know about running servers.
	for _, in := range obs.Instances {
		if in.Warning != "" && ix.declared(in.Name) {
			p.Notes = append(p.Notes, Note{Server: in.Name, Note: in.Warning})
		}
	}

	// Servers lucid-rdp owns that the spec no longer has.
	for i := range obs.Instances {
		in := &obs.Instances[i]
		if ix.declared(in.Name) {
			continue
		}
		if _, down := obs.DriverErrors[in.Driver]; down {
			continue
		}
		if why, unseen := obs.SessionsUnseen[in.Name]; unseen {
			p.problem(in.Name, unseenProblem(why))
			p.Ports[in.Name] = in.Config.Port
			continue
		}
		sessions := len(ix.sessions[in.Name])
		since, draining := obs.State.Draining[in.Name]
		if draining {
			if p.Draining == nil {
				p.Draining = map[string]time.Time{}
			}
			p.Draining[in.Name] = since
			p.Ports[in.Name] = in.Config.Port
		}
		switch {
		case in.Settings.PreventDestroy:
			p.problem(in.Name, "prevent_destroy is set on this server, so it is not removed; to remove it, set prevent_destroy = false and apply, then remove the block")
		case draining && sessions > 0:
			timeout := time.Duration(in.Settings.DrainTimeout)
			left := since.Add(timeout).Sub(now)
			if left > 0 {
				p.Notes = append(p.Notes, Note{Server: in.Name, Note: fmt.Sprintf("draining: %s, drain_timeout ends in %s", describeSessions(sessions), left.Round(time.Second))})
				p.wake(since.Add(timeout))
				continue
			}
			p.add(Change{Server: in.Name, Driver: in.Driver, Action: Delete, Before: in, Sessions: sessions, End: ix.sessions[in.Name],
				Reason: fmt.Sprintf("drain_timeout (%s) has passed; its live sessions are ended and the server removed", timeout)})
		case sessions > 0:
			p.wake(now.Add(time.Duration(in.Settings.DrainTimeout)))
			p.add(Change{Server: in.Name, Driver: in.Driver, Action: Drain, Before: in, Sessions: sessions,
				Reason: fmt.Sprintf("removed from the spec; its live sessions go on until they end or drain_timeout (%s) passes", time.Duration(in.Settings.DrainTimeout))})
		default:
			reason := "removed from the spec"
			if draining {
				reason = "drained: its last session has ended"
			}
			p.add(Change{Server: in.Name, Driver: in.Driver, Action: Delete, Before: in, Reason: reason})
		}
	}
	// Name the sessions each change touches.
	for i := range p.Changes {
		if c := &p.Changes[i]; c.End == nil {
			c.Live = ix.sessions[c.Server]
		}
	}
	sort.SliceStable(p.Changes, func(i, j int) bool { return lessName(p.Changes[i].Server, p.Changes[j].Server) })
	return p
}

// whose names the users of sessions, as " (alice, bob)", or "" when none is known.
func whose(sessions []drivers.Session) string {
	var users []string
	for _, s := range sessions {
		if s.User != "" && !slices.Contains(users, s.User) {
			users = append(users, s.User)
		}
	}
	if len(users) == 0 {
		return ""
	}
	return " (" + strings.Join(users, ", ") + ")"
}

// unseenProblem says why a server whose sessions could not be looked at is
// left as it is: it may have live sessions.
func unseenProblem(why string) string {
	return "its sessions could not be looked at (" + why + "), so it may have live ones: it is neither changed nor removed until they can"
}

// wake makes t the plan's WakeAt when it is the earliest yet.
func (p *Plan) wake(t time.Time) {
	if p.WakeAt.IsZero() || t.Before(p.WakeAt) {
		p.WakeAt = t
	}
}

// holdReplace reports whether the replace of in (for reason) waits, because
// in's driver cannot replace a server without ending its live sessions. Such
// a server drains first (no new sessions): the first plan drains it, later
// ones say in a note how long it has left. Once its drain_timeout has passed,
// the replace goes ahead and ends the sessions it returns. The server keeps
// its port while it waits; the replace takes the spec's.
//
// A restart that alert asked for (alert not "") drains first even when the
// driver could keep the sessions through the replace; the drain names it.
func (p *Plan) holdReplace(obs *Observed, ix *index, in *drivers.Instance, sessions int, reason string, diffs []Diff, now time.Time, alert string) (bool, []drivers.Session) {
	if sessions == 0 || (alert == "" && ix.keepsSessions(obs, in)) {
		return false, nil
	}
	timeout := time.Duration(in.Settings.DrainTimeout)
	since, draining := obs.State.Draining[in.Name]
	if !draining {
		p.Ports[in.Name] = in.Config.Port
		p.wake(now.Add(timeout))
		why := fmt.Sprintf("must be replaced (%s), which would end its %s%s on the %s driver: it drains first, "+
			"and the replace follows when they end or drain_timeout (%s) passes", reason, describeSessions(sessions), whose(ix.sessions[in.Name]), in.Driver, timeout)
		if alert != "" {
			why = fmt.Sprintf("%s; it has %s%s, so it drains first, and the restart follows when they end or drain_timeout (%s) passes",
				reason, describeSessions(sessions), whose(ix.sessions[in.Name]), timeout)
		}
		p.add(Change{Server: in.Name, Driver: in.Driver, Action: Drain, Then: Replace, Before: in, Sessions: sessions, Diffs: diffs, Reason: why, Alert: alert})
		return true, nil
	}
	if p.Draining == nil {
		p.Draining = map[string]time.Time{}
	}
	p.Draining[in.Name] = since
	if left := since.Add(timeout).Sub(now); left > 0 {
		p.Ports[in.Name] = in.Config.Port
		p.Waiting++
		p.wake(since.Add(timeout))
		p.Notes = append(p.Notes, Note{Server: in.Name, Note: fmt.Sprintf(
			"drained for a replace (%s): the replace waits for its %s%s to end, or for drain_timeout, which ends in %s (lucid-rdp sessions shows them)",
			reason, describeSessions(sessions), whose(ix.sessions[in.Name]), left.Round(time.Second))})
		return true, nil
	}
	return false, ix.sessions[in.Name]
}

// endReason says that a replace ends sessions, when it does.
func endReason(end []drivers.Session, in *drivers.Instance) string {
	if len(end) == 0 {
		return ""
	}
	return fmt.Sprintf("; drain_timeout (%s) has passed, so its live sessions are ended", time.Duration(in.Settings.DrainTimeout))
}

// keepPort carries a server's known port through a pass that could not plan it,
// so that a passing failure does not give its port away: the port it runs on,
// which allocate gave nobody else, or else the one it was last given, unless
// another server has it now (given is what allocate gave) or runs on it.
func keepPort(p *Plan, obs *Observed, ix *index, name string, given map[string]int) {
	port, ok := obs.State.Ports[name]
	if in := ix.instance(name); in != nil {
		if in.State == drivers.StateRunning {
			p.Ports[name] = in.Config.Port
			return
		}
		port, ok = in.Config.Port, true
	}
	if !ok {
		return
	}
	for other, q := range given {
		if other != name && q == port {
			return
		}
	}
	for _, in := range obs.Instances {
		if in.Name != name && in.Config.Port == port {
			return // another server's listener has it
		}
	}
	p.Ports[name] = port
}

func (p *Plan) add(c Change) {
	p.Changes = append(p.Changes, c)
	switch c.Action {
	case Create:
		p.Summary.Create++
	case Replace:
		p.Summary.Replace++
	case Update:
		p.Summary.Update++
	case Drain:
		if c.Then == Replace {
			p.Summary.Replace++
		} else {
			p.Summary.Delete++
		}
	case Delete:
		p.Summary.Delete++
	}
	if c.EndFor != "" {
		p.Summary.Evict += len(c.End)
	}
}

// alertSettings turns the drain and reject_new that alerts hold on a server
// with live sessions into its settings, and says which alert and why.
//
//   - drain: no new sessions; the live ones go on (and can reconnect while
//     the driver lets them: see drivers.Drainer);
//   - reject_new: sessions.max becomes the number of live sessions, so that
//     the server's own sesman refuses any login beyond them and its users can
//     still reconnect; with none live, the server drains.
func alertSettings(set *drivers.Settings, acts map[string]alerts.Directive, sessions int) (why struct{ alert, text string }) {
	if d, ok := acts[alerts.ActionRejectNew]; ok {
		why.alert, why.text = d.Alert, fmt.Sprintf("alert %s (%s): reject_new, sessions.max held at its %s", d.Alert, d.Why, describeSessions(sessions))
		if sessions == 0 {
			set.Drain = true
			why.text = fmt.Sprintf("alert %s (%s): reject_new, and it has no live session, so it takes none", d.Alert, d.Why)
		} else {
			set.MaxSessions = min(set.MaxSessions, sessions)
		}
	}
	if d, ok := acts[alerts.ActionDrain]; ok {
		set.Drain = true
		why.alert, why.text = d.Alert, fmt.Sprintf("alert %s (%s): drain, no new sessions until it resolves", d.Alert, d.Why)
	}
	return why
}

// evictMinIdle is how long a connected session must have had no input before
// evict_idle may end it. A session in use is never evicted.
const evictMinIdle = time.Minute

// evictees picks at most n sessions for evict_idle, idlest first: every
// disconnected one (oldest first) before any connected one, then connected
// ones by the time since their user's last input, longest first, and only
// those with none for evictMinIdle.
func evictees(sessions []drivers.Session, n int) []drivers.Session {
	var cands []drivers.Session
	for _, s := range sessions {
		if s.State == drivers.SessionDisconnected ||
			(s.IdleSource == xidle.Source && time.Duration(s.Idle) >= evictMinIdle) {
			cands = append(cands, s)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if ad, bd := a.State == drivers.SessionDisconnected, b.State == drivers.SessionDisconnected; ad != bd {
			return ad
		}
		if a.State == drivers.SessionDisconnected {
			return a.StartedAt.Before(b.StartedAt)
		}
		return a.Idle > b.Idle
	})
	if len(cands) > n {
		cands = cands[:n]
	}
	return cands
}

func (p *Plan) problem(server, msg string) {
	p.Problems = append(p.Problems, Problem{Server: server, Error: msg})
}

func reasonOf(diffs []Diff) string {
	parts := make([]string, 0, len(diffs))
	for _, d := range diffs {
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", d.Field, d.Before, d.After))
	}
	return strings.Join(parts, ", ")
}

func createDiffs(d drivers.Desired) []Diff {
	c := d.Config
	out := []Diff{
		{Field: "driver", After: show(c.Driver)},
		{Field: "address", After: show(c.Address)},
		{Field: "port", After: strconv.Itoa(c.Port)},
	}
	if c.Image != "" {
		out = append(out, Diff{Field: "image", After: show(c.Image)})
	}
	out = append(out,
		Diff{Field: "security.layer", After: show(c.SecurityLayer)},
		Diff{Field: "sessions.max", After: strconv.Itoa(d.Settings.MaxSessions)})
	return out
}

// configDiffs lists the restart-relevant fields that differ.
func configDiffs(a, b drivers.Config) []Diff {
	var out []Diff
	add := func(field string, x, y any) {
		if !reflect.DeepEqual(x, y) && !(isEmpty(x) && isEmpty(y)) {
			out = append(out, Diff{Field: field, Before: show(x), After: show(y), ForcesReplacement: true})
		}
	}
	add("driver", a.Driver, b.Driver)
	add("address", a.Address, b.Address)
	add("port", a.Port, b.Port)
	add("image", a.Image, b.Image)
	add("command", a.Command, b.Command)
	add("env", a.Env, b.Env)
	add("security.layer", a.SecurityLayer, b.SecurityLayer)
	add("security.certificate", a.Certificate, b.Certificate)
	add("security.key", a.Key, b.Key)
	add("sessions.disconnected_timeout", a.DisconnectedTimeout, b.DisconnectedTimeout)
	add("resources.cpus", a.CPUs, b.CPUs)
	add("resources.memory", a.MemoryBytes, b.MemoryBytes)
	add("users_file", a.UsersFile, b.UsersFile)
	if a.UsersFile == b.UsersFile && a.UsersHash != b.UsersHash {
		// The file's contents: the accounts a container applies at start.
		out = append(out, Diff{Field: "users_file", Before: "(contents " + shortHash(a.UsersHash) + ")",
			After: "(contents " + shortHash(b.UsersHash) + ")", ForcesReplacement: true})
	}
	add("home", a.Home, b.Home)
	add("network", networkName(a.Network), networkName(b.Network))
	return out
}

// networkName shows a docker server's network mode as the spec writes it.
func networkName(n string) string {
	if n == "" {
		return spec.NetworkBridge
	}
	return n
}

// shortHash shows the start of a content hash, enough to tell two apart.
func shortHash(h string) string {
	if h == "" {
		return "none"
	}
	return h[:min(len(h), 12)]
}

// settingsDiffs lists the live-updatable settings that differ.
func settingsDiffs(a, b drivers.Settings) []Diff {
	var out []Diff
	add := func(field string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			out = append(out, Diff{Field: field, Before: show(x), After: show(y)})
		}
	}
	add("sessions.max", a.MaxSessions, b.MaxSessions)
	add("sessions.idle_timeout", a.IdleTimeout, b.IdleTimeout)
	add("drain_timeout", a.DrainTimeout, b.DrainTimeout)
	add("prevent_destroy", a.PreventDestroy, b.PreventDestroy)
	add("drain", a.Drain, b.Drain)
	return out
}

func isEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	return !rv.IsValid() || rv.IsZero() || ((rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0)
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return strconv.Quote(x)
	case int64:
		return spec.FormatSize(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + strconv.Quote(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case drivers.Duration:
		return strconv.Quote(x.String())
	}
	return fmt.Sprint(v)
}

// lessName orders names naturally: "desk-2" before "desk-10".
func lessName(a, b string) bool {
	for a != "" && b != "" {
		ad, bd := unicode.IsDigit(rune(a[0])), unicode.IsDigit(rune(b[0]))
		if ad && bd {
			na, ra := leadingNumber(a)
			nb, rb := leadingNumber(b)
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingNumber(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(s[:min(i, 9)])
	return n, s[i:]
}

// Filter returns a copy of p with only the changes keep accepts, and the
// summary counted again. Ports, problems and notes are kept whole.
func (p *Plan) Filter(keep func(Change) bool) *Plan {
	out := *p
	out.Changes = []Change{}
	out.Summary = Summary{}
	for _, c := range p.Changes {
		if keep(c) {
			out.add(c)
		}
	}
	return &out
}
