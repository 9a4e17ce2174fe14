package spec

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Built-in defaults, used where neither a server nor `defaults` says otherwise.
const (
	DefaultListen       = "127.0.0.1:8090"
	DefaultStateDir     = "/var/lib/lucid-rdp"
	DefaultResync       = 10 * time.Second
	DefaultParallelism  = 8
	DefaultAddress      = "127.0.0.1"
	DefaultDriver       = "process"
	DefaultDrainTimeout = 15 * time.Minute
	DefaultMaxSessions  = 10
	DefaultLayer        = LayerNegotiate
	DefaultAction       = "notify"
)

// A docker server's network modes (spec attribute network).
const (
	NetworkBridge = "bridge"
	NetworkHost   = "host"
)

// builder turns the raw decoded blocks into a Spec, collecting diagnostics.
type builder struct {
	dir   string
	spec  *Spec
	diags hcl.Diagnostics

	usersFiles    map[string]usersFile   // by path: each file is read once per spec (per fleet)
	usersReported map[string]bool        // users files already reported on, by path
	mayRead       func(path string) bool // which users files may be read; nil: any
	// request: the spec came from a request (POST /v1/plan), not from the
	// operator's file. Nothing of the host is looked at for it (its agent
	// block is replaced by the running one, and a stat of a path the request
	// names would tell the requester whether root can see that file).
	request bool
}

func (b *builder) errorAt(subject *hcl.Range, summary, detail string, args ...any) {
	b.diags = append(b.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject,
	})
}

// maxQuoted is the longest value a diagnostic quotes whole: a 500 KB name is
// shown by its start and its length.
const maxQuoted = 120

// short returns v, or its start and its length when it is long, for quoting
// with %q in a diagnostic.
func short(v string) string {
	if len(v) <= maxQuoted {
		return v
	}
	return fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(v[:maxQuoted-20], ""), len(v))
}

func (b *builder) warnAt(subject *hcl.Range, summary, detail string, args ...any) {
	b.diags = append(b.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject,
	})
}

// attrRange returns the range of the value of attribute name in body, or of
// fallback when the body does not set it (or is not native HCL syntax).
func attrRange(body hcl.Body, name string, fallback hcl.Range) *hcl.Range {
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[name]; ok {
			r := a.Expr.Range()
			return &r
		}
	}
	return &fallback
}

// blockRange returns the range of the first nested block called typ in body.
func blockRange(body hcl.Body, typ string, fallback hcl.Range) *hcl.Range {
	if sb, ok := body.(*hclsyntax.Body); ok {
		for _, blk := range sb.Blocks {
			if blk.Type == typ {
				r := blk.DefRange()
				return &r
			}
		}
	}
	return &fallback
}

func (b *builder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(b.dir, p)
}

// duration parses a duration attribute; ok is false (and a diagnostic added)
// when it is set but not a duration.
func (b *builder) duration(v *string, dflt time.Duration, body hcl.Body, name string, fallback hcl.Range) time.Duration {
	if v == nil {
		return dflt
	}
	d, err := ParseDuration(*v)
	if err != nil {
		b.errorAt(attrRange(body, name, fallback), "Invalid duration", "%s: %s.", name, err)
		return dflt
	}
	return d
}

// build builds the blocks of one host's spec (selected by selectFor, which
// reports a second agent or defaults block: the first of each is built).
func (b *builder) build(raw *fileBlock) {
	agent, defaults := first(raw.Agents), first(raw.Defaults)
	b.buildAgent(agent)
	b.buildPortRanges(raw.PortRanges)
	b.checkListenOutsideRanges(agent)
	b.buildServers(defaults, raw.Servers)
	b.checkPorts(raw.Servers)
	b.checkRenderedValues()
	b.buildNotifiers(raw.Notifiers)
	b.buildAlerts(raw.Alerts)
}

// first returns the first element of s, or nil.
func first[T any](s []*T) *T {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

// checkListenOutsideRanges refuses an API address inside a port range: a
// server would be given the port, or the agent could not listen.
func (b *builder) checkListenOutsideRanges(raw *agentBlock) {
	host, p, err := net.SplitHostPort(b.spec.Agent.Listen)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		return
	}
	switch host {
	case "": // every address, as isLoopbackListen reads it
		host = "0.0.0.0"
	case "localhost":
		host = "127.0.0.1"
	}
	for _, r := range b.spec.PortRanges {
		if r.Contains(port) && AddressesOverlap(r.Address, host) {
			at := &r.DefRange // the default listen address: the range is what to change
			if raw != nil {
				at = attrRange(raw.Body, "listen", raw.DefRange)
			}
			b.errorAt(at, "Listen address in a port range",
				"listen = %q is inside port_range %q (%d-%d), which is for RDP servers; give the API a port outside every range.", b.spec.Agent.Listen, r.Name, r.From, r.To)
		}
	}
}

// checkRenderedValues refuses control characters in values lucid-rdp writes
// into xrdp's and sesman's configs or hands to the engine: a newline in a
// certificate path would add lines of its own to xrdp.ini.
func (b *builder) checkRenderedValues() {
	bad := func(v string) bool {
		return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
	}
	seen := map[hcl.Range]bool{} // the servers of one block (count) say it once
	for _, srv := range b.spec.Servers {
		if seen[srv.DefRange] {
			continue
		}
		seen[srv.DefRange] = true
		fields := map[string]string{"security.certificate": srv.Security.Certificate, "security.key": srv.Security.Key,
			"users_file": srv.UsersFile, "home": srv.Home, "image": srv.Image}
		for i, c := range srv.Command {
			fields[fmt.Sprintf("command[%d]", i)] = c
		}
		for k, v := range srv.Env {
			fields["env key "+strconv.Quote(k)] = k
			fields["env "+k] = v
		}
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			if bad(fields[f]) {
				b.errorAt(&srv.DefRange, "Control character in a value", "server %q: %s holds a control character (such as a newline); lucid-rdp writes it into config files and will not let it add lines.", srv.Name, f)
			}
			if len(fields[f]) > MaxValueLength {
				b.errorAt(&srv.DefRange, "Value too long", "server %q: %s is %d bytes long; the limit is %d.", srv.Name, f, len(fields[f]), MaxValueLength)
			}
		}
	}
}

func (b *builder) buildAgent(raw *agentBlock) {
	a := Agent{
		Listen:      DefaultListen,
		StateDir:    DefaultStateDir,
		Resync:      DefaultResync,
		Parallelism: DefaultParallelism,
	}
	if raw == nil {
		b.spec.Agent = a
		return
	}
	a.DefRange = raw.DefRange
	if raw.Listen != nil {
		a.Listen = *raw.Listen
	}
	if raw.StateDir != nil {
		if *raw.StateDir == "" {
			b.errorAt(attrRange(raw.Body, "state_dir", raw.DefRange), "Invalid state_dir", "state_dir must name a folder.")
		}
		a.StateDir = b.path(*raw.StateDir)
	}
	a.Resync = b.duration(raw.Resync, DefaultResync, raw.Body, "resync", raw.DefRange)
	if raw.Resync != nil && a.Resync < MinResync {
		b.errorAt(attrRange(raw.Body, "resync", raw.DefRange), "Invalid duration",
			"resync = %q; it must be at least %s (it is a backstop: edits, exits and signals start a pass at once).", *raw.Resync, MinResync)
	}
	if raw.Parallelism != nil {
		a.Parallelism = *raw.Parallelism
		if a.Parallelism < 1 || a.Parallelism > MaxParallelism {
			b.errorAt(attrRange(raw.Body, "parallelism", raw.DefRange), "Invalid parallelism",
				"parallelism is %d; it must be 1 to %d.", a.Parallelism, MaxParallelism)
		}
	}
	if raw.StateDir != nil && *raw.StateDir != "" && !b.request {
		if msg := unsafeStateDir(a.StateDir); msg != "" {
			b.errorAt(attrRange(raw.Body, "state_dir", raw.DefRange), "Invalid state_dir", "state_dir = %q: %s", a.StateDir, msg)
		}
	}
	if raw.TokenFile != nil {
		a.TokenFile = b.path(*raw.TokenFile)
		if !b.request { // see builder.request
			if msg := badTokenFile(a.TokenFile); msg != "" {
				b.errorAt(attrRange(raw.Body, "token_file", raw.DefRange), "Invalid token_file", "token_file = %q: %s", a.TokenFile, msg)
			}
		}
	}

	loopback, err := isLoopbackListen(a.Listen)
	switch {
	case err != nil:
		b.errorAt(attrRange(raw.Body, "listen", raw.DefRange), "Invalid listen address",
			"listen = %q: %s. Write HOST:PORT, such as %q.", a.Listen, err, DefaultListen)
	case !loopback && a.TokenFile == "":
		b.errorAt(attrRange(raw.Body, "listen", raw.DefRange), "Missing token_file",
			"listen = %q is reachable from other hosts, so the API needs a bearer token: set token_file to a file that holds it, or listen on a loopback address such as %q.",
			a.Listen, DefaultListen)
	}
	b.spec.Agent = a
}

func (b *builder) buildPortRanges(raws []*portRangeBlock) {
	seen := map[string]*portRangeBlock{}
	for _, raw := range raws {
		r := &PortRange{Name: raw.Name, Address: DefaultAddress, From: raw.From, To: raw.To, DefRange: raw.DefRange}
		b.checkName("port range", raw.Name, raw.NameRange)
		if prev, dup := seen[raw.Name]; dup {
			b.errorAt(&raw.NameRange, "Duplicate port range name",
				"A port_range named %q was already declared at %s.", raw.Name, prev.DefRange)
			continue
		}
		seen[raw.Name] = raw
		if raw.Address != nil {
			r.Address = *raw.Address
			if !validIP(r.Address) {
				b.errorAt(attrRange(raw.Body, "address", raw.DefRange), "Invalid address",
					"address = %q is not an IP address; write one such as \"127.0.0.1\" or \"0.0.0.0\".", r.Address)
			}
		}
		ok := true
		for _, p := range []struct {
			name string
			v    int
		}{{"from", raw.From}, {"to", raw.To}} {
			if !validPort(p.v) {
				b.errorAt(attrRange(raw.Body, p.name, raw.DefRange), "Invalid port",
					"%s = %d is outside 1..65535.", p.name, p.v)
				ok = false
			}
		}
		if ok && raw.From > raw.To {
			b.errorAt(attrRange(raw.Body, "to", raw.DefRange), "Invalid port range",
				"port_range %q runs from %d to %d: to must not be below from.", raw.Name, raw.From, raw.To)
			ok = false
		}
		if !ok {
			continue
		}
		for _, other := range b.spec.PortRanges {
			if AddressesOverlap(r.Address, other.Address) && r.From <= other.To && other.From <= r.To {
				b.errorAt(&raw.DefRange, "Overlapping port ranges",
					"port_range %q (%s, %d-%d) overlaps port_range %q (%s, %d-%d) declared at %s.",
					r.Name, r.Address, r.From, r.To, other.Name, other.Address, other.From, other.To, other.DefRange)
			}
		}
		b.spec.PortRanges = append(b.spec.PortRanges, r)
	}
}

// buildServers merges each server block over `defaults` and expands count.
func (b *builder) buildServers(rawDefaults *serverBody, raws []*serverBlock) {
	defaults := &serverBody{}
	if rawDefaults != nil {
		defaults = rawDefaults
		if defaults.Port != nil {
			b.errorAt(attrRange(defaults.Body, "port", defaults.DefRange), "Fixed port in defaults",
				"A fixed port in defaults would give every server the same port; set port on one server, or port_range here.")
		}
	}
	seen := map[string]*hcl.Range{}
	for _, raw := range raws {
		if !b.checkName("server", raw.Name, raw.NameRange) {
			continue
		}
		var own serverBody
		if diags := gohcl.DecodeBody(raw.Rest, nil, &own); diags.HasErrors() {
			b.diags = append(b.diags, diags...)
			continue
		}
		tmpl, ok := b.mergeServer(raw, &own, defaults)
		if !ok {
			continue
		}
		count := 1
		if raw.Count != nil {
			count = *raw.Count
			if count < 0 {
				b.errorAt(attrRange(raw.Body, "count", raw.DefRange), "Invalid count",
					"count = %d; it must be zero or more.", count)
				continue
			}
			if count > MaxServers-len(b.spec.Servers) {
				b.errorAt(attrRange(raw.Body, "count", raw.DefRange), "Too many servers",
					"count = %d would make the spec hold more than %d servers, the limit.", count, MaxServers)
				continue
			}
			if count > 1 && tmpl.Port != 0 {
				b.errorAt(attrRange(raw.Body, "count", raw.DefRange), "Fixed port with count",
					"server %q has count = %d and the fixed port %d: every instance would need that port. Use port_range instead.",
					raw.Name, count, tmpl.Port)
				continue
			}
		}
		// With count set, every instance is numbered, even when count = 1: then
		// scaling 3 -> 1 keeps NAME-1 and destroys two, rather than renaming all.
		if len(b.spec.Servers)+count > MaxServers {
			b.errorAt(&raw.NameRange, "Too many servers", "The spec holds more than %d servers, the limit.", MaxServers)
			break
		}
		for i := 1; i <= count; i++ {
			s := *tmpl
			if raw.Count != nil {
				s.Name = raw.Name + "-" + strconv.Itoa(i)
				if !nameRE.MatchString(s.Name) {
					b.errorAt(attrRange(raw.Body, "count", raw.DefRange), "Invalid server name",
						"count = %d makes the name %q, longer than 63 characters.", count, s.Name)
					break
				}
			}
			if prev, dup := seen[s.Name]; dup {
				detail := fmt.Sprintf("A server named %q is already declared at %s.", s.Name, prev)
				if raw.Count != nil {
					detail = fmt.Sprintf("count = %d on server %q makes %q, which is already declared at %s.", count, raw.Name, s.Name, prev)
				}
				b.errorAt(&raw.NameRange, "Duplicate server name", "%s", detail)
				break
			}
			seen[s.Name] = &raw.DefRange
			s.Env = cloneMap(tmpl.Env)
			s.Command = append([]string(nil), tmpl.Command...)
			b.spec.Servers = append(b.spec.Servers, &s)
		}
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// layer is one of the two sources of a server's settings: its own block, or
// `defaults`. Lookups return the value of the first layer that sets it, and the
// range to blame it on.
type layers struct {
	own, def *serverBody
}

func pick[T any](own, def *T) *T {
	if own != nil {
		return own
	}
	return def
}

// at returns the range of attribute name in whichever layer sets it.
func (l layers) at(name string) *hcl.Range {
	if sb, ok := l.own.Body.(*hclsyntax.Body); ok {
		if _, set := sb.Attributes[name]; set {
			return attrRange(l.own.Body, name, l.own.DefRange)
		}
	}
	if l.def.Body != nil {
		return attrRange(l.def.Body, name, l.def.DefRange)
	}
	return attrRange(l.own.Body, name, l.own.DefRange)
}

// mergeServer builds the server block's template Server (name unexpanded).
func (b *builder) mergeServer(raw *serverBlock, own, def *serverBody) (*Server, bool) {
	l := layers{own: own, def: def}
	n := len(b.diags)
	s := &Server{
		Name:         raw.Name,
		Block:        raw.Name,
		Driver:       DefaultDriver,
		Address:      DefaultAddress,
		DrainTimeout: DefaultDrainTimeout,
		DefRange:     raw.DefRange,
	}
	if v := pick(own.Driver, def.Driver); v != nil {
		s.Driver = *v
		if !oneOf(s.Driver, Drivers) {
			b.errorAt(l.at("driver"), "Unknown driver",
				"driver = %q; lucid-rdp knows %s.", s.Driver, quoteList(Drivers))
		}
	}
	if v := pick(own.Image, def.Image); v != nil {
		s.Image = *v
	}
	if s.Image != "" {
		// The engine's own parser: a reference it takes, and nothing that
		// could read as a flag or carry a second line.
		if _, err := reference.ParseNormalizedNamed(s.Image); err != nil || len(s.Image) > MaxValueLength {
			why := "too long"
			if err != nil {
				why = err.Error()
			}
			b.errorAt(l.at("image"), "Invalid image",
				"image = %q is not an image reference (%s); write it as the engine does, such as \"lucid/xrdp:bookworm\".", short(s.Image), why)
		}
	}
	if s.Driver == "docker" && s.Image == "" {
		b.errorAt(&raw.DefRange, "Missing image",
			"server %q uses the docker driver, which needs image = \"...\" (for example \"lucid/xrdp:bookworm\", built by `make xrdp-image`).", raw.Name)
	}
	if s.Driver == "process" && own.Image != nil {
		b.warnAt(l.at("image"), "Image is ignored",
			"server %q uses the process driver, which runs the host's xrdp; image applies to docker servers only.", raw.Name)
	}
	if v := pick(own.Command, def.Command); v != nil {
		s.Command = *v
	}
	s.Env = mergeEnv(def.Env, own.Env)
	for k := range s.Env {
		if !envNameRE.MatchString(k) {
			b.errorAt(l.at("env"), "Invalid environment variable name",
				"env key %q is not a valid name: use letters, digits and underscores, not starting with a digit.", short(k))
		}
	}
	b.mergeAccounts(s, raw, l)

	// Port: exactly one of port and port_range. A server's own choice overrides
	// the other kind inherited from defaults.
	switch {
	case own.Port != nil && own.PortRange != nil:
		b.errorAt(attrRange(own.Body, "port", own.DefRange), "Conflicting port settings",
			"server %q sets both port and port_range; set exactly one.", raw.Name)
	case own.Port != nil:
		s.Port = *own.Port
	case own.PortRange != nil:
		s.PortRange = *own.PortRange
	case def.PortRange != nil:
		s.PortRange = *def.PortRange
	default:
		b.errorAt(&raw.DefRange, "Missing port",
			"server %q needs port = N or port_range = \"NAME\" (here or in defaults).", raw.Name)
	}
	if own.Port != nil && !validPort(s.Port) {
		b.errorAt(attrRange(own.Body, "port", own.DefRange), "Invalid port", "port = %d is outside 1..65535.", s.Port)
	}
	if s.PortRange != "" {
		r := b.spec.PortRange(s.PortRange)
		if r == nil {
			b.errorAt(l.at("port_range"), "Unknown port range",
				"server %q draws from port_range %q, which is not declared.%s", raw.Name, s.PortRange, rangeHint(b.spec.PortRanges))
		} else {
			s.Address = r.Address
		}
		if own.Address != nil {
			b.errorAt(attrRange(own.Body, "address", own.DefRange), "Conflicting address",
				"server %q draws from port_range %q, whose address decides where it listens; remove address here or set it on the range.", raw.Name, s.PortRange)
		}
	} else if v := pick(own.Address, def.Address); v != nil {
		s.Address = *v
		if !validIP(s.Address) {
			b.errorAt(l.at("address"), "Invalid address", "address = %q is not an IP address.", s.Address)
		}
	}

	s.DrainTimeout = b.duration(pick(own.DrainTimeout, def.DrainTimeout), DefaultDrainTimeout, layerBody(l, "drain_timeout"), "drain_timeout", raw.DefRange)
	if v := pick(own.Drain, def.Drain); v != nil {
		s.Drain = *v
	}
	if v := pick(own.PreventDestroy, def.PreventDestroy); v != nil {
		s.PreventDestroy = *v
	}

	b.mergeSessions(s, raw, own.Sessions, def.Sessions)
	b.mergeSecurity(s, raw, own.Security, def.Security)
	b.mergeResources(s, raw, own.Resources, def.Resources)
	return s, len(b.diags) == n || !b.diags[n:].HasErrors()
}

// mergeAccounts sets users_file, home and network, which only docker servers
// take: a process server logs people in with the host's own accounts and
// homes, in the host's network. Set on a process server's own block they are
// errors; inherited from defaults, such a server leaves them be.
func (b *builder) mergeAccounts(s *Server, raw *serverBlock, l layers) {
	if s.Driver != "docker" {
		if l.own.UsersFile != nil {
			b.errorAt(attrRange(l.own.Body, "users_file", l.own.DefRange), "users_file is for docker servers",
				"server %q uses the process driver, whose logins are the host's own accounts (PAM); users_file gives a docker server's container its accounts. Remove it, or set driver = \"docker\".", raw.Name)
		}
		if l.own.Home != nil {
			b.errorAt(attrRange(l.own.Body, "home", l.own.DefRange), "home is for docker servers",
				"server %q uses the process driver, whose users have the host's own homes; home gives a docker server's container its /home. Remove it, or set driver = \"docker\".", raw.Name)
		}
		if l.own.Network != nil {
			b.errorAt(attrRange(l.own.Body, "network", l.own.DefRange), "network is for docker servers",
				"server %q uses the process driver, which always listens in the host's network; network chooses a docker server's container network. Remove it, or set driver = \"docker\".", raw.Name)
		}
		return
	}
	if v := pick(l.own.Network, l.def.Network); v != nil {
		switch *v {
		case NetworkBridge:
		case NetworkHost:
			s.Network = NetworkHost
		default:
			b.errorAt(l.at("network"), "Unknown network",
				"network = %q; a docker server's network is %q (its own network namespace, the port published by the engine; the default) or %q (the host's network: starts about twice as fast, without network isolation).",
				short(*v), NetworkBridge, NetworkHost)
		}
	}
	if v := pick(l.own.UsersFile, l.def.UsersFile); v != nil {
		at := l.at("users_file")
		if *v == "" {
			b.errorAt(at, "Invalid users_file", "users_file must name a file of NAME:HASH lines; remove it for no accounts.")
		} else {
			s.UsersFile = b.path(*v)
			s.UsersHash = b.checkUsersFile(s.UsersFile, at)
		}
	}
	if v := pick(l.own.Home, l.def.Home); v != nil {
		at := l.at("home")
		s.Home = b.path(*v)
		switch {
		case *v == "":
			b.errorAt(at, "Invalid home", "home must name a host folder; remove it to keep homes in the volume lucid-rdp-NAME-home.")
		case s.Home == "/":
			b.errorAt(at, "Invalid home", "home = %q would give the container the host's whole file system; name a folder of its own.", *v)
		case !b.request:
			if st, err := os.Stat(s.Home); err == nil && !st.IsDir() {
				b.errorAt(at, "Invalid home", "home %s exists and is not a folder.", s.Home)
			}
		}
	}
}

// layerBody returns the body of the layer that sets attribute name.
func layerBody(l layers, name string) hcl.Body {
	if sb, ok := l.own.Body.(*hclsyntax.Body); ok {
		if _, set := sb.Attributes[name]; set {
			return l.own.Body
		}
	}
	if l.def.Body != nil {
		return l.def.Body
	}
	return l.own.Body
}

func mergeEnv(def, own map[string]string) map[string]string {
	if def == nil && own == nil {
		return nil
	}
	out := cloneMap(def)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// nested picks, attribute by attribute, between a server's nested block and the
// same block in defaults, and remembers which body to blame.
func nested[B any, T any](own, def *B, get func(*B) *T, body func(*B) hcl.Body) (*T, hcl.Body) {
	if own != nil {
		if v := get(own); v != nil {
			return v, body(own)
		}
	}
	if def != nil {
		if v := get(def); v != nil {
			return v, body(def)
		}
	}
	return nil, nil
}

func (b *builder) mergeSessions(s *Server, raw *serverBlock, own, def *sessionsBlock) {
	body := func(x *sessionsBlock) hcl.Body { return x.Body }
	fallback := *blockRange(raw.Rest, "sessions", raw.DefRange)
	s.Sessions.Max = DefaultMaxSessions
	if v, from := nested(own, def, func(x *sessionsBlock) *int { return x.Max }, body); v != nil {
		s.Sessions.Max = *v
		if *v < 1 {
			b.errorAt(attrRange(from, "max", fallback), "Invalid session limit",
				"sessions.max = %d; it must be at least 1 (xrdp reads 0 as \"deny every login\"). Remove the server to stop serving.", *v)
		} else if *v > MaxSessionsPerServer {
			b.errorAt(attrRange(from, "max", fallback), "Invalid session limit",
				"sessions.max = %d; it must be at most %d (xrdp 0.9 numbers the X displays of all sessions from 100 to 999).", *v, MaxSessionsPerServer)
		}
	}
	if v, from := nested(own, def, func(x *sessionsBlock) *string { return x.IdleTimeout }, body); v != nil {
		s.Sessions.IdleTimeout = b.duration(v, 0, from, "idle_timeout", fallback)
		if d := s.Sessions.IdleTimeout; d > 0 && d < time.Minute {
			b.warnAt(attrRange(from, "idle_timeout", fallback), "Idle timeout raised to 1m",
				"idle_timeout = %q; as in xrdp, the least is 1m: a connection is closed after 1m without input.", *v)
		}
	}
	if v, from := nested(own, def, func(x *sessionsBlock) *string { return x.DisconnectedTimeout }, body); v != nil {
		s.Sessions.DisconnectedTimeout = b.duration(v, 0, from, "disconnected_timeout", fallback)
	}
}

func (b *builder) mergeSecurity(s *Server, raw *serverBlock, own, def *securityBlock) {
	body := func(x *securityBlock) hcl.Body { return x.Body }
	fallback := *blockRange(raw.Rest, "security", raw.DefRange)
	s.Security.Layer = DefaultLayer
	if v, from := nested(own, def, func(x *securityBlock) *string { return x.Layer }, body); v != nil {
		s.Security.Layer = *v
		if !oneOf(*v, []string{LayerTLS, LayerNegotiate, LayerRDP}) {
			b.errorAt(attrRange(from, "layer", fallback), "Unknown security layer",
				"layer = %q; choose \"tls\", \"negotiate\" or \"rdp\".", *v)
		}
	}
	cert, certFrom := nested(own, def, func(x *securityBlock) *string { return x.Certificate }, body)
	key, keyFrom := nested(own, def, func(x *securityBlock) *string { return x.Key }, body)
	switch {
	case cert != nil && key == nil:
		b.errorAt(attrRange(certFrom, "certificate", fallback), "Missing key",
			"certificate is set without key; xrdp needs both, or neither to use its own.")
	case key != nil && cert == nil:
		b.errorAt(attrRange(keyFrom, "key", fallback), "Missing certificate",
			"key is set without certificate; xrdp needs both, or neither to use its own.")
	case cert != nil:
		s.Security.Certificate = b.path(*cert)
		s.Security.Key = b.path(*key)
	}
	if s.Security.Layer == LayerRDP && cert != nil {
		b.warnAt(attrRange(certFrom, "certificate", fallback), "Certificate is unused",
			"layer = \"rdp\" uses RDP's own encryption; the certificate applies to \"tls\" and \"negotiate\".")
	}
}

// minMemory is the smallest memory limit the Docker Engine accepts.
const minMemory = 6 << 20

func (b *builder) mergeResources(s *Server, raw *serverBlock, own, def *resourcesBlock) {
	body := func(x *resourcesBlock) hcl.Body { return x.Body }
	fallback := *blockRange(raw.Rest, "resources", raw.DefRange)
	if v, from := nested(own, def, func(x *resourcesBlock) *float64 { return x.CPUs }, body); v != nil {
		s.Resources.CPUs = *v
		if *v <= 0 {
			b.errorAt(attrRange(from, "cpus", fallback), "Invalid CPU limit",
				"cpus = %g; it must be more than zero, such as 0.5 or 2.", *v)
		}
	}
	if v, from := nested(own, def, func(x *resourcesBlock) *string { return x.Memory }, body); v != nil {
		n, err := ParseSize(*v)
		switch {
		case err != nil:
			b.errorAt(attrRange(from, "memory", fallback), "Invalid size", "memory: %s.", err)
		case n < minMemory:
			b.errorAt(attrRange(from, "memory", fallback), "Invalid size",
				"memory = %q is below 6MiB, the least a container may be given.", *v)
		default:
			s.Resources.MemoryBytes = n
		}
	}
}
