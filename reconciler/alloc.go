package reconciler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// allocate gives every server of s a port: its fixed port, or one from its
// range. A range server keeps the port it runs on (or was last given) while that
// port stays in its range and free; new servers get the lowest free port, in
// spec order. Ports held by programs lucid-rdp does not own are skipped in
// ranges and are an error for fixed ports. Pure: it reads only its arguments.
//
// It costs O(servers + ports scanned): a port found unusable for an address
// stays unusable for the rest of the pass (claims only grow), so each range
// is scanned once per address rather than once per server.
func allocate(s *spec.Spec, obs *Observed, ix *index) (ports map[string]int, problems map[string]string) {
	ports = make(map[string]int, len(s.Servers))
	problems = map[string]string{}
	// A claim is live when its listener or its sessions outlast this pass's
	// stops: a server that drains, or whose replace waits for its sessions.
	type claimant struct {
		name, addr string
		live       bool
		// why it keeps the port, for the server refused it
		why string
	}
	claimed := map[int][]claimant{} // port -> who has it, on which address
	const draining = "whose live sessions keep it (it drains); it is free once they end or its drain_timeout passes"
	claimLive := func(name, addr string, port int, live bool) {
		claimed[port] = append(claimed[port], claimant{name, addr, live, draining})
	}
	claim := func(name, addr string, port int) { claimLive(name, addr, port, true) }
	claimedBy := func(name, addr string, port int, liveOnly bool) (string, string) { // another server and why, or ""
		for _, c := range claimed[port] {
			if c.name != name && (c.live || !liveOnly) && spec.AddressesOverlap(c.addr, addr) {
				return c.name, c.why
			}
		}
		return "", ""
	}
	isClaimed := func(name, addr string, port int) bool {
		other, _ := claimedBy(name, addr, port, false)
		return other != ""
	}
	// Ports of our instances that are no longer in the spec stay out of reach
	// this pass: their listener may be draining. So do those of servers whose
	// replace waits for their sessions (see holdReplace): they keep their port
	// until then, whatever the spec now says.
	// One whose sessions could not be looked at may have live ones; one with
	// prevent_destroy is not removed at all.
	for _, in := range obs.Instances {
		_, unseen := obs.SessionsUnseen[in.Name]
		sessions := len(ix.sessions[in.Name]) > 0 || unseen
		if !ix.declared(in.Name) || (sessions && !ix.keepsSessions(obs, &in)) {
			claimLive(in.Name, in.Config.Address, in.Config.Port, sessions || (!ix.declared(in.Name) && in.Settings.PreventDestroy))
		}
	}

	// Servers this pass leaves as they are (their driver is down, or their
	// sessions could not be looked at) keep the port they have: MakePlan
	// keeps it for them (keepPort), so nobody else may be given it.
	for _, srv := range s.Servers {
		_, down := obs.DriverErrors[srv.Driver]
		_, unseen := obs.SessionsUnseen[srv.Name]
		if !down && !unseen {
			continue
		}
		const why = "which keeps it while it cannot be changed (see its error)"
		if in := ix.instance(srv.Name); in != nil {
			claimed[in.Config.Port] = append(claimed[in.Config.Port], claimant{srv.Name, in.Config.Address, true, why})
		} else if p, ok := obs.State.Ports[srv.Name]; ok {
			claimed[p] = append(claimed[p], claimant{srv.Name, srv.Address, true, why})
		}
	}

	// Fixed ports first: they are not negotiable.
	for _, srv := range s.Servers {
		if srv.Port == 0 {
			continue
		}
		if holder, held := ix.heldBy(srv.Address, srv.Port); held {
			problems[srv.Name] = fmt.Sprintf("port %d on %s is held by %s, which lucid-rdp does not own; free the port or choose another", srv.Port, srv.Address, holder)
			continue
		}
		if other, why := claimedBy(srv.Name, srv.Address, srv.Port, true); other != "" {
			problems[srv.Name] = fmt.Sprintf("port %d on %s is still held by server %s, %s", srv.Port, srv.Address, other, why)
			continue
		}
		ports[srv.Name] = srv.Port
		claim(srv.Name, srv.Address, srv.Port)
	}

	usable := func(srv *spec.Server, r *spec.PortRange, port int) bool {
		if port == 0 || !r.Contains(port) || isClaimed(srv.Name, srv.Address, port) {
			return false
		}
		_, held := ix.heldBy(srv.Address, port)
		return !held
	}
	// Range servers keep what they have, where they can.
	var fresh []*spec.Server
	for _, srv := range s.Servers {
		if srv.PortRange == "" {
			continue
		}
		r := s.PortRange(srv.PortRange)
		kept := 0
		if in := ix.instance(srv.Name); in != nil && in.Config.Address == srv.Address && usable(srv, r, in.Config.Port) {
			kept = in.Config.Port
		} else if p := obs.State.Ports[srv.Name]; usable(srv, r, p) {
			kept = p
		}
		if kept == 0 {
			fresh = append(fresh, srv)
			continue
		}
		ports[srv.Name] = kept
		claim(srv.Name, srv.Address, kept)
	}
	// Then the lowest free port for the rest. next remembers, per range and
	// address, the lowest port not yet found unusable.
	type cursor struct{ rng, addr string }
	next := map[cursor]int{}
	for _, srv := range fresh {
		r := s.PortRange(srv.PortRange)
		c := cursor{r.Name, srv.Address}
		p, seen := next[c]
		if !seen {
			p = r.From
		}
		for ; p <= r.To; p++ {
			if usable(srv, r, p) {
				ports[srv.Name] = p
				claim(srv.Name, srv.Address, p)
				break
			}
		}
		next[c] = p
		if ports[srv.Name] == 0 {
			problems[srv.Name] = rangeFull(r, obs)
		}
	}
	// A server whose range had no room goes on running where it is
	// (keepPort): a server given that port here must wait until it moves.
	var full []string
	for name := range problems {
		full = append(full, name)
	}
	sort.Strings(full)
	for _, name := range full {
		in := ix.instance(name)
		if in == nil || in.State != drivers.StateRunning {
			continue
		}
		for other, port := range ports {
			if o := ix.servers[other]; other != name && port == in.Config.Port && o != nil && spec.AddressesOverlap(o.Address, in.Config.Address) {
				delete(ports, other)
				problems[other] = fmt.Sprintf("port %d on %s is still held by server %s, which cannot move to its port_range until it has room (see its error)", port, o.Address, name)
			}
		}
	}
	return ports, problems
}

func rangeFull(r *spec.PortRange, obs *Observed) string {
	var foreign []string
	for _, l := range obs.Listeners {
		if r.Contains(l.Port) && spec.AddressesOverlap(l.Address, r.Address) {
			foreign = append(foreign, fmt.Sprintf("%d by %s", l.Port, l.who()))
		}
	}
	sort.Strings(foreign)
	msg := fmt.Sprintf("port_range %q (%d-%d) has no free port", r.Name, r.From, r.To)
	if len(foreign) > 0 {
		msg += "; held outside lucid-rdp: " + strings.Join(foreign, ", ")
	}
	return msg
}
