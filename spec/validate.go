package spec

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// nameRE is the shape of every name in a spec. Names become container names
// and file names, so nothing that could escape a folder or a shell word fits.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidServerName reports whether name is a server name the spec accepts
// (and so a safe file and container name). Drivers check it again before they
// build a path from a name that did not come through the spec.
func ValidServerName(name string) bool { return nameRE.MatchString(name) }

// labelRE is the shape of alert and notify names. They never become file or
// container names, so they may also hold underscores (DESIGN.md's own example
// is alert "host_memory"); they do become label values in metrics and alerts.
var labelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (b *builder) checkName(kind, name string, at hcl.Range) bool {
	if kind == "alert" || kind == "notify" {
		if labelRE.MatchString(name) {
			return true
		}
		b.errorAt(&at, "Invalid "+kind+" name",
			"%q is not a valid name: use 1 to 63 lowercase letters, digits, dashes and underscores, starting with a letter or digit.", short(name))
		return false
	}
	if nameRE.MatchString(name) {
		return true
	}
	b.errorAt(&at, "Invalid "+kind+" name",
		"%q is not a valid name: use 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit (names become file and container names).", short(name))
	return false
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

func validIP(s string) bool { return net.ParseIP(s) != nil }

// AddressesOverlap reports whether two bind addresses can collide on a port:
// they are the same, or one of them is a wildcard.
func AddressesOverlap(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia == nil || ib == nil {
		return a == b
	}
	return ia.IsUnspecified() || ib.IsUnspecified() || ia.Equal(ib)
}

// isLoopbackListen reports whether a HOST:PORT listen address is reachable from
// this host only.
func isLoopbackListen(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("not HOST:PORT")
	}
	if n, err := strconv.Atoi(port); err != nil || !validPort(n) {
		return false, fmt.Errorf("port %q is not in 1..65535", port)
	}
	if host == "localhost" {
		return true, nil
	}
	if host == "" {
		return false, nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false, fmt.Errorf("host %q is not an IP address or localhost", host)
	}
	return ip.IsLoopback(), nil
}

func oneOf(s string, set []string) bool { return slices.Contains(set, s) }

func quoteList(set []string) string {
	q := make([]string, len(set))
	for i, s := range set {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func rangeHint(rs []*PortRange) string {
	if len(rs) == 0 {
		return " Declare it with a port_range block."
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return " Declared ranges: " + quoteList(names) + "."
}

// checkPorts checks the ports of all servers together: fixed ports must not
// collide with each other or sit inside a range servers draw from, and each range
// must hold the servers that draw from it.
func (b *builder) checkPorts(raws []*serverBlock) {
	blocks := map[string]*serverBlock{}
	for _, raw := range raws {
		if _, dup := blocks[raw.Name]; !dup {
			blocks[raw.Name] = raw
		}
	}
	users := map[string][]*Server{}
	for _, s := range b.spec.Servers {
		if s.PortRange != "" {
			users[s.PortRange] = append(users[s.PortRange], s)
		}
	}
	var fixed []*Server
	for _, s := range b.spec.Servers {
		if s.Port == 0 || !validPort(s.Port) {
			continue
		}
		raw := blocks[s.Block]
		at := attrRange(raw.Body, "port", raw.DefRange)
		for _, o := range fixed {
			if o.Port == s.Port && AddressesOverlap(o.Address, s.Address) {
				b.errorAt(at, "Duplicate port",
					"servers %q and %q both want port %d on %s; each fixed port serves one server.", o.Name, s.Name, s.Port, s.Address)
			}
		}
		for _, r := range b.spec.PortRanges {
			if r.Contains(s.Port) && AddressesOverlap(r.Address, s.Address) && len(users[r.Name]) > 0 {
				b.errorAt(at, "Port inside a port range",
					"server %q wants port %d, which is inside port_range %q (%d-%d) that other servers draw from; pick a port outside it.",
					s.Name, s.Port, r.Name, r.From, r.To)
			}
		}
		fixed = append(fixed, s)
	}
	for _, r := range b.spec.PortRanges {
		us := users[r.Name]
		if len(us) <= r.Size() {
			continue
		}
		first := us[r.Size()]
		raw := blocks[first.Block]
		at := attrRange(raw.Body, "port_range", raw.DefRange)
		if raw.Count != nil {
			at = attrRange(raw.Body, "count", raw.DefRange)
		}
		names := make([]string, len(us))
		for i, u := range us {
			names[i] = u.Name
		}
		b.errorAt(at, "Port range too small",
			"port_range %q holds %d ports (%d-%d), but %d servers draw from it: %s. Widen the range or move servers to another.",
			r.Name, r.Size(), r.From, r.To, len(us), strings.Join(names, ", "))
	}
}

func (b *builder) buildNotifiers(raws []*notifyBlock) {
	seen := map[string]hcl.Range{}
	for _, raw := range raws {
		if !b.checkName("notify", raw.Name, raw.NameRange) {
			continue
		}
		if prev, dup := seen[raw.Name]; dup {
			b.errorAt(&raw.NameRange, "Duplicate notify name", "A notify block named %q was already declared at %s.", raw.Name, prev)
			continue
		}
		seen[raw.Name] = raw.DefRange
		n := &Notifier{Name: raw.Name, URL: raw.URL, DefRange: raw.DefRange}
		switch {
		case raw.Type != nil:
			n.Type = *raw.Type
			if !oneOf(n.Type, NotifierTypes) {
				b.errorAt(attrRange(raw.Body, "type", raw.DefRange), "Unknown notifier type",
					"type = %q; choose %s.", n.Type, quoteList(NotifierTypes))
			}
		case oneOf(raw.Name, NotifierTypes):
			n.Type = raw.Name
		default:
			b.errorAt(&raw.DefRange, "Missing notifier type",
				"notify %q needs type = %s (the label names the type only when it is one of them).", raw.Name, quoteList(NotifierTypes))
		}
		u, err := url.Parse(raw.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			b.errorAt(attrRange(raw.Body, "url", raw.DefRange), "Invalid URL",
				"url = %q; write an http:// or https:// address, such as \"http://127.0.0.1:9093\".", raw.URL)
		}
		b.spec.Notifiers = append(b.spec.Notifiers, n)
	}
}

func (b *builder) buildAlerts(raws []*alertBlock) {
	seen := map[string]hcl.Range{}
	for _, raw := range raws {
		if !b.checkName("alert", raw.Name, raw.NameRange) {
			continue
		}
		if prev, dup := seen[raw.Name]; dup {
			b.errorAt(&raw.NameRange, "Duplicate alert name", "An alert named %q was already declared at %s.", raw.Name, prev)
			continue
		}
		seen[raw.Name] = raw.DefRange
		a := &Alert{Name: raw.Name, Metric: raw.Metric, Above: raw.Above, Below: raw.Below, Action: DefaultAction, DefRange: raw.DefRange}
		if !oneOf(a.Metric, Metrics) {
			b.errorAt(attrRange(raw.Body, "metric", raw.DefRange), "Unknown alert metric",
				"metric = %q; lucid-rdp watches %s.", a.Metric, quoteList(Metrics))
		}
		switch {
		case a.Above != nil && a.Below != nil:
			b.errorAt(attrRange(raw.Body, "below", raw.DefRange), "Conflicting thresholds",
				"alert %q sets both above and below; set exactly one.", raw.Name)
		case a.Above == nil && a.Below == nil:
			b.errorAt(&raw.DefRange, "Missing threshold", "alert %q needs above = N or below = N.", raw.Name)
		}
		a.For = b.duration(raw.For, 0, raw.Body, "for", raw.DefRange)
		a.KeepFiringFor = b.duration(raw.KeepFiringFor, 0, raw.Body, "keep_firing_for", raw.DefRange)
		if raw.Action != nil {
			a.Action = *raw.Action
			if !oneOf(a.Action, Actions) {
				b.errorAt(attrRange(raw.Body, "action", raw.DefRange), "Unknown alert action",
					"action = %q; choose %s.", a.Action, quoteList(Actions))
			}
		}
		if raw.Servers != nil {
			a.Servers = *raw.Servers
			for _, g := range a.Servers {
				if _, err := path.Match(g, ""); err != nil {
					b.errorAt(attrRange(raw.Body, "servers", raw.DefRange), "Invalid server pattern",
						"%q is not a valid glob pattern.", g)
				} else if !slices.ContainsFunc(b.spec.Servers, func(s *Server) bool { ok, _ := path.Match(g, s.Name); return ok }) {
					b.warnAt(attrRange(raw.Body, "servers", raw.DefRange), "Pattern matches no server",
						"%q matches none of the servers in this spec.", g)
				}
			}
		}
		a.Cooldown = b.duration(raw.Cooldown, DefaultCooldown[a.Action], raw.Body, "cooldown", raw.DefRange)
		if a.Action == "restart" && a.Cooldown < MinRestartCooldown {
			b.errorAt(attrRange(raw.Body, "cooldown", raw.DefRange), "Cooldown too short",
				"alert %q restarts servers: cooldown = %q would let it restart one in a loop; use at least %s.", raw.Name, a.Cooldown, MinRestartCooldown)
		}
		if raw.Severity != nil {
			a.Severity = *raw.Severity
			if !labelRE.MatchString(a.Severity) {
				b.errorAt(attrRange(raw.Body, "severity", raw.DefRange), "Invalid severity",
					"severity = %q; use a word such as \"warning\" or \"critical\" (letters, digits, _ and -).", a.Severity)
			}
		}
		// An action on servers must name them: a host or port range metric
		// has no server of its own, and "every server" is not a default
		// anyone should get by leaving a line out.
		if a.Action != "notify" && oneOf(a.Action, Actions) && !strings.HasPrefix(a.Metric, "server.") && len(a.Servers) == 0 {
			b.errorAt(&raw.DefRange, "Alert action names no server",
				"alert %q watches %s, which is not a server's, and its action %s acts on servers: say which with servers = [\"desk-*\"] (or [\"*\"] for every server).", raw.Name, a.Metric, a.Action)
		}
		if a.Action == "notify" && len(raws) > 0 && len(b.spec.Notifiers) == 0 {
			b.warnAt(&raw.DefRange, "Nowhere to notify",
				"alert %q notifies, but no notify block is declared: it will show in status and metrics only.", raw.Name)
		}
		b.spec.Alerts = append(b.spec.Alerts, a)
	}
}
