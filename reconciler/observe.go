package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Observed is the live state of the host as the drivers and the socket table
// report it: everything the planner needs, and nothing it must fetch itself.
type Observed struct {
	// Instances are the servers lucid-rdp owns, from every driver that answered.
	Instances []drivers.Instance `json:"instances"`
	// Sessions holds every live session the drivers found, sorted by server
	// and display: the one list a pass and its readers (the planner, status,
	// /v1/sessions, enforcement) share.
	Sessions []drivers.Session `json:"sessions,omitempty"`
	// Leftovers are the processes of lucid-rdp's servers that serve nobody
	// (see drivers.Leftover); the agent cleans them up.
	Leftovers []drivers.Leftover `json:"leftovers,omitempty"`
	// SessionsUnseen maps each server whose sessions could not be looked at
	// to why. It may have live sessions: it is neither replaced nor
	// destroyed this pass, and its limits are not enforced.
	SessionsUnseen map[string]string `json:"sessions_unseen,omitempty"`
	// KeepsSessions names the drivers whose replace keeps live sessions going
	// (drivers.SessionKeeper). A server of another driver that has sessions is
	// not replaced while they last.
	KeepsSessions map[string]bool `json:"keeps_sessions,omitempty"`
	// DriverErrors maps a driver that could not list its servers to why. Its
	// servers are neither created nor destroyed while it is unreachable.
	DriverErrors map[string]string `json:"driver_errors,omitempty"`
	// Listeners are listening sockets lucid-rdp does not own, on ports the spec
	// cares about.
	Listeners []Listener `json:"listeners,omitempty"`
	// AlertActions are what firing alerts ask of the servers (alerts.Decide):
	// drains, restarts, evictions and reject_new, which the plan carries out.
	AlertActions []alerts.Directive `json:"alert_actions,omitempty"`
	// Host is what the observation read of the host (its socket and process
	// tables), for whatever else the pass reads of it.
	Host *drivers.Host `json:"-"`
	// State is what earlier applies persisted: port allocations, drains.
	State State `json:"state"`
	// StateProblem says why the persisted state could not be read, when it
	// could not; State is then empty.
	StateProblem string `json:"state_problem,omitempty"`
}

// Listener is a listening socket held by a program lucid-rdp does not own.
type Listener struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Holder names the program, such as "pid 812 (nginx)", when visible.
	Holder string `json:"holder,omitempty"`
}

// who names the listener's holder for people, also when it is not visible.
func (l Listener) who() string {
	if l.Holder == "" {
		return "another program"
	}
	return l.Holder
}

// Fingerprint hashes what a saved plan depends on: which servers exist, how they
// run, and whether they have sessions. A saved plan is applied only while the
// host's fingerprint is unchanged.
func (o *Observed) Fingerprint() string {
	type entry struct {
		Name, Driver, ID, Hash string
		State                  drivers.State
		Port                   int
		Settings               drivers.Settings
		HasSessions            bool
	}
	var es []entry
	counts := o.SessionCounts()
	for _, in := range o.Instances {
		es = append(es, entry{in.Name, in.Driver, in.ID, in.Hash, in.State, in.Config.Port, in.Settings, counts[in.Name] > 0})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	b, _ := json.Marshal(struct {
		E []entry
		D map[string]string
		L []Listener
		S State
	}{es, o.DriverErrors, o.Listeners, o.State})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Observe asks every driver what it owns, counts sessions and finds foreign
// listeners on the ports s uses, all from one read of the socket table.
func Observe(ctx context.Context, s *spec.Spec, ds []drivers.Driver, state State, readSockets func() (*socktab.Table, error)) (*Observed, error) {
	obs := &Observed{State: state}
	lists := make([][]drivers.Instance, len(ds))
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			lists[i], errs[i] = d.List(lctx)
		}()
	}
	wg.Wait()
	host := drivers.NewHost(readSockets)
	tab, err := host.Sockets()
	if err != nil {
		return nil, err
	}
	obs.Host = host
	var listed []drivers.Driver
	for i, d := range ds {
		if errs[i] != nil {
			if obs.DriverErrors == nil {
				obs.DriverErrors = map[string]string{}
			}
			obs.DriverErrors[d.Name()] = errs[i].Error()
			continue
		}
		obs.Instances = append(obs.Instances, lists[i]...)
		if k, ok := d.(drivers.SessionKeeper); ok && k.KeepsSessionsOnReplace() {
			if obs.KeepsSessions == nil {
				obs.KeepsSessions = map[string]bool{}
			}
			obs.KeepsSessions[d.Name()] = true
		}
		listed = append(listed, d)
	}
	sort.Slice(obs.Instances, func(i, j int) bool { return lessName(obs.Instances[i].Name, obs.Instances[j].Name) })
	look := listSessions(ctx, listed, obs.Instances, host)
	obs.Sessions, obs.Leftovers, obs.SessionsUnseen = look.Sessions, look.Leftovers, look.Unseen
	obs.Listeners = foreignListeners(s, obs.Instances, tab)
	return obs, nil
}

// listSessions asks each driver of ds that lists sessions for those of its
// instances, and returns what they found, the sessions sorted by server, then
// display.
func listSessions(ctx context.Context, ds []drivers.Driver, instances []drivers.Instance, host *drivers.Host) drivers.SessionLook {
	var look drivers.SessionLook
	for _, d := range ds {
		sl, ok := d.(drivers.SessionLister)
		if !ok {
			continue
		}
		var mine []drivers.Instance
		for _, in := range instances {
			if in.Driver == d.Name() {
				mine = append(mine, in)
			}
		}
		if len(mine) > 0 {
			look.Add(sl.Sessions(ctx, mine, host))
		}
	}
	out := look.Sessions
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Server != b.Server {
			return lessName(a.Server, b.Server)
		}
		return a.Display < b.Display
	})
	return look
}

// SessionCounts counts the live sessions of each server.
func (o *Observed) SessionCounts() map[string]int {
	n := map[string]int{}
	for _, s := range o.Sessions {
		n[s.Server]++
	}
	return n
}

// foreignListeners returns the listening sockets on ports s uses that no running
// instance of ours explains, with their holders where visible.
func foreignListeners(s *spec.Spec, ours []drivers.Instance, tab *socktab.Table) []Listener {
	relevant := func(addr net.IP, port int) bool {
		for _, r := range s.PortRanges {
			if r.Contains(port) && spec.AddressesOverlap(r.Address, addr.String()) {
				return true
			}
		}
		for _, srv := range s.Servers {
			if srv.Port == port && spec.AddressesOverlap(srv.Address, addr.String()) {
				return true
			}
		}
		return false
	}
	var found []socktab.Socket
	for _, l := range tab.Listening {
		if !relevant(l.Local, l.LocalPort) {
			continue
		}
		mine := false
		for _, in := range ours {
			if in.State == drivers.StateRunning && in.Config.Port == l.LocalPort && spec.AddressesOverlap(in.Config.Address, l.Local.String()) {
				mine = true
				break
			}
		}
		if !mine {
			found = append(found, l)
		}
	}
	if len(found) == 0 {
		return nil
	}
	inodes := make([]uint64, len(found))
	for i, l := range found {
		inodes[i] = l.Inode
	}
	holders := socktab.Holders(inodes)
	// A server of ours that is down for another reason than its listener (a
	// process server whose sesman died) still holds its port with that
	// listener: its restart replaces it, so it is not in the way.
	ownListener := func(l socktab.Socket, h socktab.Holder) bool {
		for _, in := range ours {
			if in.State != drivers.StateRunning && in.ID == strconv.Itoa(h.PID) && in.Config.Port == l.LocalPort &&
				spec.AddressesOverlap(in.Config.Address, l.Local.String()) {
				return true
			}
		}
		return false
	}
	out := make([]Listener, 0, len(found))
	for _, l := range found {
		ln := Listener{Address: l.Local.String(), Port: l.LocalPort}
		if h, ok := holders[l.Inode]; ok {
			if ownListener(l, h) {
				continue
			}
			ln.Holder = h.String()
		}
		out = append(out, ln)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// describeSessions writes "2 live sessions".
func describeSessions(n int) string {
	if n == 1 {
		return "1 live session"
	}
	return fmt.Sprintf("%d live sessions", n)
}
