package reconciler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/xidle"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// FuzzPlan plans random specs against random observed states and checks what
// the planner promises whatever it is given (see checkPlan). The fuzz input
// is a stream of choices that planInput reads; running out of bytes means
// zero choices, so any input is a case.
//
// A failing input is written to testdata/fuzz/FuzzPlan; `go test -run
// FuzzPlan/NAME -v` replays it and prints the spec and observation it makes.
func FuzzPlan(f *testing.F) {
	// Seeds: choice streams from a fixed source, short and long, so that the
	// first inputs already reach drains, alerts and port contention.
	rng := rand.New(rand.NewPCG(12, 2026))
	for _, n := range []int{0, 8, 32, 64, 96, 128, 160, 200, 256, 320, 400, 512} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		in, ok := planInput(stream)
		if !ok {
			return // the spec did not validate: the planner never sees such a spec
		}
		p := MakePlan(in.spec, in.obs, in.now)
		if err := checkPlan(in, p); err != nil {
			t.Fatalf("%v\n\n%s", err, in)
		}
	})
}

// planCase is one input of FuzzPlan.
type planCase struct {
	src  string
	spec *spec.Spec
	obs  *Observed
	now  time.Time
}

func (c planCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "now: %s\nspec:\n%s\nobserved:\n", c.now.Format(time.RFC3339), c.src)
	for _, in := range c.obs.Instances {
		fmt.Fprintf(&b, "  instance %s: driver %s, %s, %s:%d, image %q, layer %s, hash %s, settings %+v\n", in.Name, in.Driver, in.State,
			in.Config.Address, in.Config.Port, in.Config.Image, in.Config.SecurityLayer, in.Hash, in.Settings)
	}
	for _, s := range c.obs.Sessions {
		fmt.Fprintf(&b, "  session %s/%s: %s, idle %s (%s)\n", s.Server, s.User, s.State, s.Idle, s.IdleSource)
	}
	fmt.Fprintf(&b, "  draining %v\n  ports %v\n  listeners %+v\n  keeps_sessions %v\n  sessions_unseen %v\n  driver_errors %v\n",
		c.obs.State.Draining, c.obs.State.Ports, c.obs.Listeners, c.obs.KeepsSessions, c.obs.SessionsUnseen, c.obs.DriverErrors)
	for _, d := range c.obs.AlertActions {
		fmt.Fprintf(&b, "  directive %s %s %s evict=%d\n", d.Alert, d.Action, d.Server, d.Evict)
	}
	return b.String()
}

// choices reads a fuzz input as a stream of small choices; past its end every
// choice is 0.
type choices []byte

func (c *choices) next() byte {
	if len(*c) == 0 {
		return 0
	}
	b := (*c)[0]
	*c = (*c)[1:]
	return b
}

// of picks one of n (n > 0).
func (c *choices) of(n int) int { return int(c.next()) % n }

// chance is true k times in 8, and false for a 0 (so that a stream of zeros
// is the plainest case).
func (c *choices) chance(k int) bool { return int(c.next()&7) >= 8-k }

func pick[T any](c *choices, xs ...T) T { return xs[c.of(len(xs))] }

// The pools a case draws from: few enough that names, ports and addresses
// collide often.
var (
	fuzzNames     = []string{"a", "b", "c", "d"}
	fuzzGone      = []string{"old-1", "old-2"} // names no spec declares
	fuzzAddresses = []string{"127.0.0.1", "127.0.0.2", "0.0.0.0"}
	fuzzPorts     = []int{13500, 13501, 13502, 13503, 13510, 13511, 13512, 13520, 13521}
	fuzzDurations = []time.Duration{0, time.Minute, 15 * time.Minute, time.Hour}
	fuzzAges      = []time.Duration{-time.Minute, 0, 30 * time.Second, time.Minute, 14 * time.Minute, 15 * time.Minute, 16 * time.Minute, 2 * time.Hour}
	fuzzIdle      = []time.Duration{0, 5 * time.Second, 59 * time.Second, time.Minute, 20 * time.Minute}
)

// planInput builds a spec (as text, parsed and validated like any spec) and
// an observation from cs. It reports false when the spec does not validate.
func planInput(cs []byte) (planCase, bool) {
	c := choices(cs)
	now := planNow.Add(time.Duration(c.of(64)) * time.Minute)
	var src strings.Builder
	src.WriteString("port_range \"r1\" {\n  from = 13510\n  to   = 13512\n}\n")
	src.WriteString("port_range \"r2\" {\n  address = \"0.0.0.0\"\n  from    = 13520\n  to      = 13521\n}\n")
	ranged := map[string]int{}
	for i, name := range fuzzNames {
		if !c.chance(5) {
			continue
		}
		fmt.Fprintf(&src, "server %q {\n", name)
		if c.chance(3) {
			fmt.Fprintf(&src, "  driver = \"docker\"\n  image  = %q\n", pick(&c, "lucid/xrdp:v1", "lucid/xrdp:v2"))
		}
		// A fixed port of its own (distinct by name, so the spec validates),
		// or one from a range while it has room.
		switch r := pick(&c, "", "r1", "r2"); {
		case r == "r1" && ranged[r] < 3, r == "r2" && ranged[r] < 2:
			ranged[r]++
			fmt.Fprintf(&src, "  port_range = %q\n", r)
		default:
			fmt.Fprintf(&src, "  port    = %d\n  address = %q\n", 13500+i, pick(&c, fuzzAddresses...))
		}
		fmt.Fprintf(&src, "  sessions {\n    max = %d\n  }\n", 1+c.of(4))
		fmt.Fprintf(&src, "  drain_timeout = %q\n", pick(&c, "1m", "15m", "1h"))
		if c.chance(2) {
			src.WriteString("  drain = true\n")
		}
		if c.chance(1) {
			src.WriteString("  prevent_destroy = true\n")
		}
		if c.chance(2) {
			src.WriteString("  security {\n    layer = \"tls\"\n  }\n")
		}
		src.WriteString("}\n")
	}
	s, diags := spec.Parse("fuzz.hcl", []byte(src.String()))
	if diags.HasErrors() {
		return planCase{}, false
	}

	obs := &Observed{State: State{Ports: map[string]int{}, Draining: map[string]time.Time{}}}
	for _, d := range spec.Drivers {
		if c.chance(1) {
			if obs.DriverErrors == nil {
				obs.DriverErrors = map[string]string{}
			}
			obs.DriverErrors[d] = "fuzz: down"
		}
	}
	// The drivers as they are: a process server keeps its sessions through a
	// replace, a docker one does not; now and then a case says otherwise.
	obs.KeepsSessions = map[string]bool{"process": !c.chance(1), "docker": c.chance(1)}
	for range c.of(3) {
		obs.Listeners = append(obs.Listeners, Listener{Address: pick(&c, fuzzAddresses...), Port: pick(&c, fuzzPorts...), Holder: "pid 1 (fuzz)"})
	}
	// What the host allows: two listeners never hold one port on
	// overlapping addresses, so a server whose port is taken is not running.
	// Nor does lucid-rdp give one port to two of its servers: each
	// instance, running or not, has its own.
	foreign := func(addr string, port int) bool {
		return slices.ContainsFunc(obs.Listeners, func(l Listener) bool { return l.Port == port && spec.AddressesOverlap(l.Address, addr) })
	}
	ours := func(addr string, port int) bool {
		return slices.ContainsFunc(obs.Instances, func(in drivers.Instance) bool {
			return in.Config.Port == port && spec.AddressesOverlap(in.Config.Address, addr)
		})
	}
	stored := map[int]bool{} // state.json's ports were a plan's: one server each
	for _, name := range append(slices.Clone(fuzzNames), fuzzGone...) {
		srv := s.Server(name)
		if c.chance(5) {
			in := fuzzInstance(&c, name, srv)
			if in.State == drivers.StateRunning && foreign(in.Config.Address, in.Config.Port) {
				in.State, in.Detail = drivers.StateExited, "fuzz: its port is taken"
			}
			_, down := obs.DriverErrors[in.Driver] // a driver that is down lists nothing
			if !down && !ours(in.Config.Address, in.Config.Port) {
				obs.Instances = append(obs.Instances, in)
				// Sessions outlive a process listener, not a container.
				if in.State == drivers.StateRunning || in.Driver == "process" {
					for range c.of(4) {
						obs.Sessions = append(obs.Sessions, fuzzSession(&c, name, len(obs.Sessions)))
					}
				}
			}
		}
		if c.chance(2) {
			obs.State.Draining[name] = now.Add(-pick(&c, fuzzAges...))
		}
		if port := pick(&c, fuzzPorts...); c.chance(3) && !stored[port] {
			obs.State.Ports[name], stored[port] = port, true
		}
		if c.chance(1) {
			if obs.SessionsUnseen == nil {
				obs.SessionsUnseen = map[string]string{}
			}
			obs.SessionsUnseen[name] = "fuzz: not looked at"
		}
	}
	for range c.of(5) {
		d := alerts.Directive{Alert: pick(&c, "cpu", "mem"), Server: pick(&c, append(slices.Clone(fuzzNames), fuzzGone...)...), Why: "fuzz",
			Action: pick(&c, alerts.ActionDrain, alerts.ActionRestart, alerts.ActionEvictIdle, alerts.ActionRejectNew)}
		if d.Action == alerts.ActionEvictIdle {
			d.Evict = 1 + c.of(3)
		}
		obs.AlertActions = append(obs.AlertActions, d)
	}
	// As alerts.Decide orders them.
	sort.SliceStable(obs.AlertActions, func(i, j int) bool {
		a, b := obs.AlertActions[i], obs.AlertActions[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return a.Alert < b.Alert
	})
	return planCase{src: src.String(), spec: s, obs: obs, now: now}, true
}

// fuzzInstance makes an observed instance called name: like what srv (nil
// when the spec does not declare name) would run as, or not.
func fuzzInstance(c *choices, name string, srv *spec.Server) drivers.Instance {
	var d drivers.Desired
	if srv != nil {
		port := srv.Port
		if srv.PortRange != "" || c.chance(1) {
			port = pick(c, fuzzPorts...)
		}
		d = drivers.DesiredFor(srv, port)
	} else {
		d.Config = drivers.Config{Driver: pick(c, spec.Drivers...), Address: pick(c, fuzzAddresses...), Port: pick(c, fuzzPorts...), SecurityLayer: "negotiate"}
		if d.Config.Driver == "docker" {
			d.Config.Image = "lucid/xrdp:v1"
		}
		d.Settings = drivers.Settings{MaxSessions: 10, DrainTimeout: drivers.Duration(15 * time.Minute)}
	}
	if c.chance(1) { // another driver than the spec's
		d.Config.Driver = pick(c, spec.Drivers...)
		if d.Config.Driver == "docker" && d.Config.Image == "" {
			d.Config.Image = "lucid/xrdp:v1"
		}
	}
	if d.Config.Driver == "docker" && c.chance(2) {
		d.Config.Image = pick(c, "lucid/xrdp:v1", "lucid/xrdp:v2")
	}
	if c.chance(2) {
		d.Config.SecurityLayer = pick(c, "negotiate", "tls")
	}
	if c.chance(2) {
		d.Settings.MaxSessions = 1 + c.of(4)
	}
	if c.chance(2) {
		d.Settings.DrainTimeout = drivers.Duration(pick(c, fuzzDurations...))
	}
	if c.chance(2) {
		d.Settings.Drain = !d.Settings.Drain
	}
	if c.chance(1) {
		d.Settings.PreventDestroy = !d.Settings.PreventDestroy
	}
	in := drivers.Instance{Name: name, Driver: d.Config.Driver, ID: "id-" + name, State: drivers.StateRunning,
		Config: d.Config, Hash: d.Config.Hash(), Settings: d.Settings}
	if c.chance(2) {
		in.State, in.Detail = drivers.StateExited, "fuzz: exited"
	}
	if c.chance(1) {
		in.Hash = "v0-0123456789abcdef01234567" // recorded by an older lucid-rdp
	}
	return in
}

func fuzzSession(c *choices, server string, n int) drivers.Session {
	s := drivers.Session{Server: server, User: fmt.Sprintf("user%d", n), Display: 10 + n, State: drivers.SessionActive,
		XPID: 5000 + n, XStartTime: uint64(7000 + n), StartedAt: planNow.Add(-time.Duration(c.of(120)) * time.Minute)}
	if c.chance(3) {
		s.State = drivers.SessionDisconnected
	} else {
		s.PID, s.StartTime, s.Client = 4000+n, uint64(6000+n), fmt.Sprintf("192.0.2.7:%d", 50000+n)
	}
	if c.chance(6) {
		s.Idle, s.IdleSource = drivers.Duration(pick(c, fuzzIdle...)), xidle.Source
	} else {
		s.IdleSource = "unknown: fuzz"
	}
	return s
}

// checkPlan checks what MakePlan promises of p, made from c:
//
//   - the same inputs give the same plan;
//   - a change that ends live sessions (End) does so only once the server's
//     drain_timeout has passed since its drain began (obs.State.Draining),
//     and then ends all of them; or it is the eviction an evict_idle
//     directive naming the server asks for (EndFor), of at most as many
//     sessions as it asks, each disconnected or idle for a minute or more;
//   - a server with live sessions is deleted, or replaced by a driver that
//     cannot keep them (or for an alert's restart, which drains first
//     whatever the driver), only once its drain_timeout has passed, and
//     that change ends them;
//   - a drain ends no session; only a server the spec no longer declares is
//     deleted or drained for good, and never one with prevent_destroy;
//   - a change that names an alert names one that asked for it of that
//     server, and the servers no directive names are planned as they would
//     be without any directive;
//   - no two servers whose addresses overlap are given one port (Plan.Ports);
//   - a server whose sessions could not be looked at is not changed, nor is
//     one whose driver is down.
func checkPlan(c planCase, p *Plan) error {
	obs, now := c.obs, c.now
	if again := MakePlan(c.spec, obs, now); !reflect.DeepEqual(p, again) {
		return fmt.Errorf("two plans of the same inputs differ:\n%s\n%s", p.describe(), again.describe())
	}
	sessions := map[string][]drivers.Session{}
	for _, s := range obs.Sessions {
		sessions[s.Server] = append(sessions[s.Server], s)
	}
	instance := map[string]*drivers.Instance{}
	for i := range obs.Instances {
		instance[obs.Instances[i].Name] = &obs.Instances[i]
	}
	drainPassed := func(name string) bool {
		since, ok := obs.State.Draining[name]
		in := instance[name]
		return ok && in != nil && !since.Add(time.Duration(in.Settings.DrainTimeout)).After(now)
	}
	named := map[string]bool{}
	for _, d := range obs.AlertActions {
		named[d.Server] = true
	}
	for _, ch := range p.Changes {
		live := sessions[ch.Server]
		in := instance[ch.Server]
		srv := c.spec.Server(ch.Server)
		what := fmt.Sprintf("%s %s (%d live sessions)", ch.Action, ch.Server, len(live))
		if _, unseen := obs.SessionsUnseen[ch.Server]; unseen {
			return fmt.Errorf("%s: its sessions were not looked at", what)
		}
		if srv != nil {
			if _, down := obs.DriverErrors[srv.Driver]; down {
				return fmt.Errorf("%s: its driver %s is down", what, srv.Driver)
			}
		}
		for _, e := range ch.End {
			if !slices.ContainsFunc(live, func(s drivers.Session) bool { return reflect.DeepEqual(s, e) }) {
				return fmt.Errorf("%s: ends %s's session, which is not one of its live ones", what, e.User)
			}
		}
		switch {
		case len(ch.End) == 0:
		case ch.EndFor != "":
			d, ok := directive(obs, ch.EndFor, alerts.ActionEvictIdle, ch.Server)
			if !ok {
				return fmt.Errorf("%s: evicts for alert %s, which asks for no evict_idle of it", what, ch.EndFor)
			}
			if len(ch.End) > d.Evict {
				return fmt.Errorf("%s: evicts %d sessions; alert %s asks for %d", what, len(ch.End), d.Alert, d.Evict)
			}
			for _, e := range ch.End {
				if e.State != drivers.SessionDisconnected && (e.IdleSource != xidle.Source || time.Duration(e.Idle) < time.Minute) {
					return fmt.Errorf("%s: evicts %s's session, %s and idle %s (%s)", what, e.User, e.State, e.Idle, e.IdleSource)
				}
			}
		case !drainPassed(ch.Server):
			return fmt.Errorf("%s: ends %d sessions, but no drain_timeout has passed (draining since %v)", what, len(ch.End), obs.State.Draining[ch.Server])
		case len(ch.End) != len(live):
			return fmt.Errorf("%s: its drain_timeout has passed, but it ends %d of its sessions", what, len(ch.End))
		}
		if len(live) > 0 && ch.EndFor == "" {
			keeps := in != nil && srv != nil && srv.Driver == in.Driver && obs.KeepsSessions[in.Driver] && ch.Alert == ""
			switch {
			case ch.Action == Delete, ch.Action == Replace && !keeps:
				if !drainPassed(ch.Server) {
					return fmt.Errorf("%s: not drained, or its drain_timeout has not passed (draining since %v, now %v)", what, obs.State.Draining[ch.Server], now)
				}
				if len(ch.End) != len(live) {
					return fmt.Errorf("%s: ends %d of its sessions without saying so", what, len(ch.End))
				}
			}
		}
		switch ch.Action {
		case Drain:
			if len(ch.End) > 0 {
				return fmt.Errorf("%s: a drain ends sessions", what)
			}
			if ch.Then == "" && srv != nil {
				return fmt.Errorf("%s: drains a server the spec declares, for good", what)
			}
		case Delete:
			if srv != nil {
				return fmt.Errorf("%s: deletes a server the spec declares", what)
			}
		}
		if (ch.Action == Delete || (ch.Action == Drain && ch.Then == "")) && in != nil && in.Settings.PreventDestroy {
			return fmt.Errorf("%s: removes a server with prevent_destroy", what)
		}
		if ch.Alert != "" && !slices.ContainsFunc(obs.AlertActions, func(d alerts.Directive) bool { return d.Alert == ch.Alert && d.Server == ch.Server }) {
			return fmt.Errorf("%s: names alert %s, which asks nothing of it", what, ch.Alert)
		}
	}

	// Without the directives, the servers none names are planned alike.
	quiet := *obs
	quiet.AlertActions = nil
	without := MakePlan(c.spec, &quiet, now)
	for _, name := range append(slices.Clone(fuzzNames), fuzzGone...) {
		if named[name] {
			continue
		}
		if a, b := p.changesOf(name), without.changesOf(name); !reflect.DeepEqual(a, b) {
			return fmt.Errorf("%s, which no alert names, is planned otherwise because of alerts:\n%s\nwithout them:\n%s", name, describeChanges(a), describeChanges(b))
		}
	}

	// One port, one server (per address).
	address := func(name string) string {
		if srv := c.spec.Server(name); srv != nil {
			return srv.Address
		}
		if in := instance[name]; in != nil {
			return in.Config.Address
		}
		return ""
	}
	names := make([]string, 0, len(p.Ports))
	for name := range p.Ports {
		if !slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Server == name && c.Action == Delete }) {
			names = append(names, name) // a deleted server gives its port up
		}
	}
	sort.Strings(names)
	// A server the plan cannot converge keeps its port (keepPort), and
	// allocate gives that port to nobody else.
	for i, a := range names {
		for _, b := range names[i+1:] {
			if p.Ports[a] == p.Ports[b] && spec.AddressesOverlap(address(a), address(b)) {
				return fmt.Errorf("port %d is given to both %s (%s) and %s (%s)\n%s", p.Ports[a], a, address(a), b, address(b), p.describe())
			}
		}
	}
	return nil
}

// directive returns the directive of alert for action on server, if obs has one.
func directive(obs *Observed, alert, action, server string) (alerts.Directive, bool) {
	for _, d := range obs.AlertActions {
		if d.Alert == alert && d.Action == action && d.Server == server {
			return d, true
		}
	}
	return alerts.Directive{}, false
}

func (p *Plan) changesOf(server string) []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Server == server {
			out = append(out, c)
		}
	}
	return out
}

func describeChanges(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s %s then=%q alert=%q end=%d end_for=%q: %s\n", c.Action, c.Server, c.Then, c.Alert, len(c.End), c.EndFor, c.Reason)
	}
	return b.String()
}

func (p *Plan) describe() string {
	return fmt.Sprintf("changes:\n%sports: %v\nproblems: %+v\nnotes: %+v", describeChanges(p.Changes), p.Ports, p.Problems, p.Notes)
}
