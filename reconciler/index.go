package reconciler

import (
	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// index answers the planner's lookups by name and port in constant time, so
// that a plan costs O(n log n) in the number of servers (the sort), not O(n²).
// It is built once per plan from the spec and the observation, and read only.
type index struct {
	servers   map[string]*spec.Server
	instances map[string]*drivers.Instance
	listeners map[int][]Listener // foreign listeners by port
	sessions  map[string][]drivers.Session
	// actions are what alerts ask of each server, by action.
	actions map[string]map[string]alerts.Directive
}

func newIndex(s *spec.Spec, obs *Observed) *index {
	ix := &index{
		servers:   make(map[string]*spec.Server, len(s.Servers)),
		instances: make(map[string]*drivers.Instance, len(obs.Instances)),
		listeners: make(map[int][]Listener, len(obs.Listeners)),
	}
	for _, srv := range s.Servers {
		ix.servers[srv.Name] = srv
	}
	for i := range obs.Instances {
		ix.instances[obs.Instances[i].Name] = &obs.Instances[i]
	}
	for _, ses := range obs.Sessions {
		if ix.sessions == nil {
			ix.sessions = map[string][]drivers.Session{}
		}
		ix.sessions[ses.Server] = append(ix.sessions[ses.Server], ses)
	}
	for _, d := range obs.AlertActions {
		if ix.actions == nil {
			ix.actions = map[string]map[string]alerts.Directive{}
		}
		if ix.actions[d.Server] == nil {
			ix.actions[d.Server] = map[string]alerts.Directive{}
		}
		if _, ok := ix.actions[d.Server][d.Action]; !ok { // the first alert, by name, speaks for the action
			ix.actions[d.Server][d.Action] = d
		}
	}
	for _, l := range obs.Listeners {
		ix.listeners[l.Port] = append(ix.listeners[l.Port], l)
	}
	return ix
}

// declared reports whether the spec has a server called name.
func (ix *index) declared(name string) bool { return ix.servers[name] != nil }

// keepsSessions reports whether replacing in with the spec's server of its
// name keeps in's live sessions going: only a replace by the same driver can,
// and only with a driver that says so (drivers.SessionKeeper). A change of
// driver stops in for good.
func (ix *index) keepsSessions(obs *Observed, in *drivers.Instance) bool {
	srv := ix.servers[in.Name]
	return srv != nil && srv.Driver == in.Driver && obs.KeepsSessions[in.Driver]
}

// instance returns the observed instance called name, or nil.
func (ix *index) instance(name string) *drivers.Instance { return ix.instances[name] }

// heldBy returns who holds address:port, when a program lucid-rdp does not own does.
func (ix *index) heldBy(address string, port int) (string, bool) {
	for _, l := range ix.listeners[port] {
		if spec.AddressesOverlap(l.Address, address) {
			return l.who(), true
		}
	}
	return "", false
}
