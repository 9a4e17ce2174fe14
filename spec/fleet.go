package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// EnvHost names the environment variable that says which host of a fleet
// spec this machine is, instead of its host name.
const EnvHost = "LUCID_RDP_HOST"

// ThisHost returns the name this machine goes by in a fleet spec:
// $LUCID_RDP_HOST when set, else os.Hostname(), in lowercase (host names are
// read without regard to case, and host blocks name them in lowercase).
func ThisHost() (string, error) {
	name := strings.TrimSpace(os.Getenv(EnvHost))
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("spec: this host's name: %w (set %s)", err, EnvHost)
		}
		name = h
	}
	if name == "" {
		return "", fmt.Errorf("spec: this host has no name; set %s", EnvHost)
	}
	return strings.ToLower(name), nil
}

// Host is a `host` block: one host of a fleet.
type Host struct {
	// Name is the block label: the host's name, as ThisHost gives it on
	// that host.
	Name string
	// Labels are the host's labels, which `hosts = ["KEY=VALUE"]` selects by.
	Labels map[string]string
	// Address is where the host's agent API answers ("http://10.0.0.5:8090"),
	// or "" when not set.
	Address string
	// TokenFile is the absolute path of a file holding the bearer token of
	// the host's agent API, as read where the fleet is planned from; "" for
	// none.
	TokenFile string

	// DefRange is where the block was declared.
	DefRange hcl.Range
}

// Fleet is a spec read and checked as a whole, before it is resolved for one
// host: the hosts its host blocks declare and, for every other block, the
// hosts it applies to. A spec without host blocks is a one-host spec, which
// For resolves whatever the host. For and ForAll are not to be called
// concurrently on one Fleet.
type Fleet struct {
	// Filename is the path the spec was loaded under: a file, or a folder.
	Filename string
	// Dir is the absolute folder relative paths resolve against.
	Dir string
	// Files are the files read, in the order read.
	Files []File
	// Hosts are the declared hosts, in the order declared; none for a
	// one-host spec.
	Hosts []*Host

	raw fileBlock
	// blocks are every block but the host blocks, in the order of the
	// files, as a host's Source shows them (see render).
	blocks []sourceBlock
	// selects holds, by block, the hosts a block with a hosts attribute
	// applies to; a block without one applies to every host.
	selects map[hcl.Range]map[string]bool
	mayRead func(string) bool
	request bool

	usersFiles map[string]usersFile // read once for every host
}

// LoadFleet reads the spec at path (a file, or a folder of *.hcl files; see
// ReadFiles) and checks it as a whole: syntax, schema, host blocks and every
// hosts attribute. Each host's own rules are checked by For and ForAll. On any
// error-severity diagnostic the returned Fleet is nil.
func LoadFleet(path string) (*Fleet, hcl.Diagnostics) {
	files, err := ReadFiles(path)
	if err != nil {
		return nil, cannotRead(path, err)
	}
	return ParseFleet(path, files)
}

// ParseFleet is LoadFleet for files already read (see ReadFiles); path is
// the name they were read under.
func ParseFleet(path string, files []File) (*Fleet, hcl.Diagnostics) {
	return parseFleet(path, files, nil)
}

func parseFleet(name string, files []File, mayRead func(string) bool) (*Fleet, hcl.Diagnostics) {
	if len(files) == 0 {
		return nil, cannotRead(name, fmt.Errorf("%s holds no *.hcl file", name))
	}
	if len(files) > MaxFiles {
		return nil, cannotRead(name, fmt.Errorf("%s holds %d *.hcl files; the limit is %d", name, len(files), MaxFiles))
	}
	f := &Fleet{Filename: name, Files: files, mayRead: mayRead, request: mayRead != nil,
		selects: map[hcl.Range]map[string]bool{}, usersFiles: map[string]usersFile{}}
	total := 0
	for _, file := range files {
		total += len(file.Src)
	}
	if len(files) > 1 && total > MaxSpecSize {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Spec too large",
			Detail:  fmt.Sprintf("The files of the spec are %d bytes together; the limit is %d (%d KiB).", total, MaxSpecSize, MaxSpecSize>>10),
			Subject: &hcl.Range{Filename: name}}}
	}
	var diags hcl.Diagnostics
	count := map[string]int{}
	for _, file := range files {
		if d := checkBounds(file.Name, file.Src); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		hf, d := hclsyntax.ParseConfig(file.Src, file.Name, hcl.InitialPos)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if shape := checkShape(hf, count); shape.HasErrors() {
			diags = append(diags, shape...)
			continue
		}
		diags = append(diags, d...)
		var raw fileBlock
		d = gohcl.DecodeBody(hf.Body, nil, &raw)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		f.raw.add(&raw)
		body, _ := hf.Body.(*hclsyntax.Body) // always, from hclsyntax
		f.blocks = appendSourceBlocks(f.blocks, body, file.Src)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	dir, err := filepath.Abs(filepath.Dir(files[0].Name))
	if err != nil {
		dir = filepath.Dir(files[0].Name)
	}
	f.Dir = dir
	b := &builder{dir: dir}
	f.buildHosts(b)
	f.selectHosts(b)
	diags = append(diags, b.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return f, diags
}

func cannotRead(path string, err error) hcl.Diagnostics {
	detail := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		detail = fmt.Sprintf("There is no file at %s. Name one on the command line or set %s.", path, EnvConfig)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Cannot read spec file",
		Detail:   detail,
		Subject:  &hcl.Range{Filename: path},
	}}
}

// IsFleet reports whether the spec declares hosts.
func (f *Fleet) IsFleet() bool { return len(f.Hosts) > 0 }

// Host returns the declared host called name, or nil.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// HostNames returns the declared hosts' names, in the order declared.
func (f *Fleet) HostNames() []string {
	names := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i] = h.Name
	}
	return names
}

// ForThisHost resolves the spec for this machine: a fleet spec for ThisHost,
// a one-host spec as it is.
func (f *Fleet) ForThisHost() (*Spec, hcl.Diagnostics) {
	if !f.IsFleet() {
		return f.For("")
	}
	host, err := ThisHost()
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown host", Detail: err.Error(),
			Subject: &hcl.Range{Filename: f.Filename}}}
	}
	return f.For(host)
}

// For resolves the spec of the declared host called host: the blocks that
// apply to it, checked by every rule of a spec (names, ports, ranges, ...),
// each diagnostic saying "on host NAME". A host the fleet spec does not
// declare is an error, never an empty spec. A one-host spec is resolved as a
// whole, whatever host says. On any error-severity diagnostic the returned
// Spec is nil.
func (f *Fleet) For(host string) (*Spec, hcl.Diagnostics) {
	if f.IsFleet() && f.Host(host) == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown host",
			Detail: fmt.Sprintf("host %s is not in the fleet spec (declared: %s); add a host block or set %s.",
				host, listNames(f.HostNames(), 20), EnvHost),
			Subject: &hcl.Range{Filename: f.Filename}}}
	}
	s, diags := f.resolve(host, true)
	if f.IsFleet() {
		for _, d := range diags {
			tagHosts(d, []string{host}, len(f.Hosts))
		}
	}
	return s, diags
}

// ForAll resolves every declared host's spec, as validate checks a fleet:
// specs[i] is Hosts[i]'s, nil when it has errors. It is the check of a fleet
// from anywhere (CI, a laptop), so what a host's part names on that host
// (its token_file, state_dir, a home folder) is not looked for here: For
// checks it, on the host. Users files are read: they are the fleet's. A problem that several
// hosts share (a block they all take) is reported once, naming them. A
// one-host spec gives its one spec.
func (f *Fleet) ForAll() ([]*Spec, hcl.Diagnostics) {
	if !f.IsFleet() {
		s, diags := f.For("")
		return []*Spec{s}, diags
	}
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	type shared struct {
		d     *hcl.Diagnostic
		hosts []string
	}
	specs := make([]*Spec, len(f.Hosts))
	var order []*shared
	seen := map[key]*shared{}
	for i, h := range f.Hosts {
		s, diags := f.resolve(h.Name, false)
		specs[i] = s
		for _, d := range diags {
			k := key{sev: d.Severity, summary: d.Summary, detail: d.Detail}
			if d.Subject != nil {
				k.subject = *d.Subject
			}
			if e, ok := seen[k]; ok {
				if e.hosts[len(e.hosts)-1] != h.Name { // else said twice for one host: once is enough
					e.hosts = append(e.hosts, h.Name)
				}
				continue
			}
			e := &shared{d: d, hosts: []string{h.Name}}
			seen[k] = e
			order = append(order, e)
		}
	}
	var diags hcl.Diagnostics
	for _, e := range order {
		tagHosts(e.d, e.hosts, len(f.Hosts))
		diags = append(diags, e.d)
	}
	return specs, diags
}

// resolve builds host's spec ("" for a one-host spec), its diagnostics not
// yet naming the host. here: the spec is resolved on the host itself (For),
// so what it names of the host (token_file, state_dir, home) is checked on
// this machine; resolved for every host at once (ForAll: validate, fleet
// review in CI), those are each host's own and left to its agent.
func (f *Fleet) resolve(host string, here bool) (*Spec, hcl.Diagnostics) {
	sel, diags := f.selectFor(host)
	b := &builder{
		dir:        f.Dir,
		spec:       &Spec{Filename: f.Filename, Dir: f.Dir, Host: host},
		mayRead:    f.mayRead,
		request:    f.request || !here,
		usersFiles: f.usersFiles,
	}
	b.build(sel)
	diags = append(diags, b.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	if f.IsFleet() {
		b.spec.Source = f.render(host)
	} else {
		b.spec.Source = joinSources(f.Files)
	}
	return b.spec, diags
}

// applies reports whether the block declared at def applies to host.
func (f *Fleet) applies(def hcl.Range, host string) bool {
	hosts, limited := f.selects[def]
	return !limited || hosts[host]
}

// selectFor returns the blocks that apply to host (all of them for a one-host
// spec), and an error for each agent or defaults block beyond the first.
func (f *Fleet) selectFor(host string) (*fileBlock, hcl.Diagnostics) {
	keep := func(def hcl.Range) bool { return host == "" || f.applies(def, host) }
	sel := &fileBlock{
		Agents:     only(f.raw.Agents, func(b *agentBlock) hcl.Range { return b.DefRange }, keep),
		PortRanges: only(f.raw.PortRanges, func(b *portRangeBlock) hcl.Range { return b.DefRange }, keep),
		Defaults:   only(f.raw.Defaults, func(b *serverBody) hcl.Range { return b.DefRange }, keep),
		Servers:    only(f.raw.Servers, func(b *serverBlock) hcl.Range { return b.DefRange }, keep),
		Alerts:     only(f.raw.Alerts, func(b *alertBlock) hcl.Range { return b.DefRange }, keep),
		Notifiers:  only(f.raw.Notifiers, func(b *notifyBlock) hcl.Range { return b.DefRange }, keep),
	}
	var diags hcl.Diagnostics
	agents := make([]hcl.Range, len(sel.Agents))
	for i, a := range sel.Agents {
		agents[i] = a.DefRange
	}
	defaults := make([]hcl.Range, len(sel.Defaults))
	for i, d := range sel.Defaults {
		defaults[i] = d.DefRange
	}
	diags = append(diags, atMostOne("agent", agents, host)...)
	diags = append(diags, atMostOne("defaults", defaults, host)...)
	return sel, diags
}

func only[T any](blocks []*T, def func(*T) hcl.Range, keep func(hcl.Range) bool) []*T {
	var out []*T
	for _, b := range blocks {
		if keep(def(b)) {
			out = append(out, b)
		}
	}
	return out
}

// atMostOne reports every block of kind beyond the first that applies to a
// host (or to the one host of a one-host spec), naming where both are.
func atMostOne(kind string, defs []hcl.Range, host string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i := 1; i < len(defs); i++ {
		detail := fmt.Sprintf("Only one %s block is allowed. Another was declared at %s.", kind, lineOf(defs[0]))
		if host != "" {
			detail = fmt.Sprintf("the %s blocks at %s and %s both apply to this host, and at most one may: narrow their hosts.",
				kind, lineOf(defs[0]), lineOf(defs[i]))
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + kind + " block",
			Detail: detail, Subject: &defs[i]})
	}
	return diags
}

// lineOf names where r starts, as FILE:LINE.
func lineOf(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// sourceBlock is a block's text as a host's Source shows it: as written but
// for its hosts attribute.
type sourceBlock struct {
	def  hcl.Range
	text []byte
}

// appendSourceBlocks appends the blocks of body, a file's top level read from
// src, but for its host blocks (a host's address or labels are not its
// servers'). Each is cut out of src once, whatever the number of hosts it
// applies to.
func appendSourceBlocks(out []sourceBlock, body *hclsyntax.Body, src []byte) []sourceBlock {
	for _, blk := range body.Blocks {
		if blk.Type == "host" {
			continue
		}
		r := blk.Range()
		text := src[r.Start.Byte:r.End.Byte]
		if _, ok := blk.Body.Attributes["hosts"]; ok {
			if wf, diags := hclwrite.ParseConfig(text, r.Filename, r.Start); !diags.HasErrors() && len(wf.Body().Blocks()) == 1 {
				wf.Body().Blocks()[0].Body().RemoveAttribute("hosts")
				text = wf.Bytes()
			}
		}
		out = append(out, sourceBlock{def: blk.DefRange(), text: text})
	}
	return out
}

// render returns the blocks that apply to host, in the order of the files,
// each as written but for its hosts attribute: the Source of host's spec.
func (f *Fleet) render(host string) []byte {
	var out bytes.Buffer
	for _, blk := range f.blocks {
		if f.applies(blk.def, host) {
			out.Write(blk.text)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// hostNameRE is the shape of a host block's name: a host name as hostname(1)
// prints it, in lowercase.
var hostNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]{0,251}[a-z0-9])?$`)

// hostLabelRE is the shape of a host label's name: that of a Prometheus label,
// so that labels can be handed to Prometheus as they are.
var hostLabelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,62}$`)

// maxLabelValue is the longest value of a host label.
const maxLabelValue = 256

func (f *Fleet) buildHosts(b *builder) {
	seen := map[string]hcl.Range{}
	for _, raw := range f.raw.Hosts {
		if !hostNameRE.MatchString(raw.Name) {
			b.errorAt(&raw.NameRange, "Invalid host name",
				"%q is not a host name: use lowercase letters, digits, dashes, dots and underscores, starting and ending with a letter or digit, as hostname prints it (at most 253 characters).", short(raw.Name))
			continue
		}
		if prev, dup := seen[raw.Name]; dup {
			b.errorAt(&raw.NameRange, "Duplicate host name", "A host named %q was already declared at %s.", raw.Name, lineOf(prev))
			continue
		}
		seen[raw.Name] = raw.DefRange
		h := &Host{Name: raw.Name, Labels: raw.Labels, DefRange: raw.DefRange}
		keys := make([]string, 0, len(raw.Labels))
		for k := range raw.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := raw.Labels[k]
			switch {
			case !hostLabelRE.MatchString(k) || strings.HasPrefix(k, "__"):
				b.errorAt(attrRange(raw.Body, "labels", raw.DefRange), "Invalid label name",
					"%q is not a label name: use letters, digits and underscores, starting with a letter or underscore (not two), at most 63 characters.", short(k))
			case v == "" || len(v) > maxLabelValue || strings.ContainsFunc(v, unicode.IsControl):
				b.errorAt(attrRange(raw.Body, "labels", raw.DefRange), "Invalid label value",
					"label %s = %q: a value is 1 to %d characters, without control characters.", k, short(v), maxLabelValue)
			}
		}
		if raw.Address != nil {
			h.Address = *raw.Address
			if u, err := url.Parse(h.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				b.errorAt(attrRange(raw.Body, "address", raw.DefRange), "Invalid address",
					"address = %q; write where the host's agent API answers, as an http:// or https:// address such as \"http://10.0.0.5:8090\".", short(h.Address))
			}
		}
		if raw.TokenFile != nil {
			if *raw.TokenFile == "" {
				b.errorAt(attrRange(raw.Body, "token_file", raw.DefRange), "Invalid token_file", "token_file must name a file; remove it for none.")
			}
			h.TokenFile = b.path(*raw.TokenFile)
		}
		f.Hosts = append(f.Hosts, h)
	}
}

// selectable is a block that may carry a hosts attribute.
type selectable struct {
	what  string // `server "desk"`, as messages name it
	hosts *[]string
	body  hcl.Body
	def   hcl.Range
}

// selectables lists the blocks that may carry hosts, in the order written.
func (f *Fleet) selectables() []selectable {
	var out []selectable
	for _, b := range f.raw.Agents {
		out = append(out, selectable{"agent", b.Hosts, b.Body, b.DefRange})
	}
	for _, b := range f.raw.PortRanges {
		out = append(out, selectable{fmt.Sprintf("port_range %q", b.Name), b.Hosts, b.Body, b.DefRange})
	}
	for _, b := range f.raw.Defaults {
		out = append(out, selectable{"defaults", b.Hosts, b.Body, b.DefRange})
	}
	for _, b := range f.raw.Servers {
		out = append(out, selectable{fmt.Sprintf("server %q", b.Name), b.Hosts, b.Body, b.DefRange})
	}
	for _, b := range f.raw.Alerts {
		out = append(out, selectable{fmt.Sprintf("alert %q", b.Name), b.Hosts, b.Body, b.DefRange})
	}
	for _, b := range f.raw.Notifiers {
		out = append(out, selectable{fmt.Sprintf("notify %q", b.Name), b.Hosts, b.Body, b.DefRange})
	}
	// In the order written, so that diagnostics come in file and line order.
	file := map[string]int{}
	for i, fl := range f.Files {
		file[fl.Name] = i
	}
	slices.SortStableFunc(out, func(a, b selectable) int {
		if fa, fb := file[a.def.Filename], file[b.def.Filename]; fa != fb {
			return fa - fb
		}
		return a.def.Start.Byte - b.def.Start.Byte
	})
	return out
}

// selectHosts works out the hosts each block with a hosts attribute applies
// to. Each entry of hosts is a glob over host names (path.Match: "pi-*") or a
// label selector "KEY=VALUE"; a block applies to a host that any entry
// matches. An entry that matches no host, and a block that applies to none,
// are warnings; hosts in a spec without host blocks is an error.
func (f *Fleet) selectHosts(b *builder) {
	for _, s := range f.selectables() {
		if s.hosts == nil {
			continue
		}
		at := attrRange(s.body, "hosts", s.def)
		if len(f.raw.Hosts) == 0 {
			b.errorAt(at, "No host blocks",
				"hosts needs host blocks: %s selects hosts, but this spec declares none, so it is the spec of whichever host runs it. Declare the fleet's hosts with host \"NAME\" { ... } blocks, or remove hosts.", s.what)
			continue
		}
		entries := elementRanges(s.body, "hosts", len(*s.hosts), *at)
		hosts := map[string]bool{}
		var missed []int
		ok := true
		for i, e := range *s.hosts {
			match, err := hostMatcher(e)
			if err != "" {
				b.errorAt(&entries[i], "Invalid host selector", "%q %s", short(e), err)
				ok = false
				continue
			}
			n := 0
			for _, h := range f.Hosts {
				if match(h) {
					hosts[h.Name] = true
					n++
				}
			}
			if n == 0 {
				missed = append(missed, i)
			}
		}
		f.selects[s.def] = hosts
		if !ok {
			continue
		}
		if len(hosts) == 0 {
			b.warnAt(at, "Block applies to no host",
				"%s: hosts selects none of the declared hosts (%s), so no host has this block.", s.what, listNames(f.HostNames(), 20))
			continue
		}
		for _, i := range missed {
			b.warnAt(&entries[i], "No host matches",
				"%q matches none of the declared hosts (%s).", short((*s.hosts)[i]), listNames(f.HostNames(), 20))
		}
	}
}

// hostMatcher returns what entry of a hosts list matches, or why it is not
// one.
func hostMatcher(entry string) (func(*Host) bool, string) {
	if key, value, isLabel := strings.Cut(entry, "="); isLabel {
		if !hostLabelRE.MatchString(key) || value == "" {
			return nil, "is not a label selector: write KEY=VALUE, such as \"role=kiosk\"."
		}
		return func(h *Host) bool { v, ok := h.Labels[key]; return ok && v == value }, ""
	}
	if entry == "" {
		return nil, "is not a host name or pattern: write one such as \"pi-1\" or \"pi-*\", or a label selector such as \"role=kiosk\"."
	}
	if _, err := path.Match(entry, ""); err != nil {
		return nil, "is not a valid glob pattern (" + err.Error() + ")."
	}
	return func(h *Host) bool { ok, _ := path.Match(entry, h.Name); return ok }, ""
}

// elementRanges returns the range of each of the n elements of the list
// attribute name in body, or fallback for each when it is not a literal list.
func elementRanges(body hcl.Body, name string, n int, fallback hcl.Range) []hcl.Range {
	out := make([]hcl.Range, n)
	var exprs []hclsyntax.Expression
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[name]; ok {
			if t, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
				exprs = t.Exprs
			}
		}
	}
	for i := range out {
		out[i] = fallback
		if len(exprs) == n {
			out[i] = exprs[i].Range()
		}
	}
	return out
}

// listNames joins names for a message, at most most of them.
func listNames(names []string, most int) string {
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
}

// diagHosts is the Extra of a diagnostic about some hosts of a fleet.
type diagHosts []string

// DiagnosticHosts returns the hosts of a fleet a diagnostic is about, or nil
// when it is about the spec as a whole (or a one-host spec).
func DiagnosticHosts(d *hcl.Diagnostic) []string {
	if h, ok := d.Extra.(diagHosts); ok {
		return h
	}
	return nil
}

// tagHosts makes d say which hosts it is about ("on host pi-2: ..."), of a
// fleet of total hosts.
func tagHosts(d *hcl.Diagnostic, hosts []string, total int) {
	var on string
	switch {
	case len(hosts) == 1:
		on = "on host " + hosts[0]
	case len(hosts) == total:
		on = "on every host"
	default:
		on = "on hosts " + listNames(hosts, 5)
	}
	detail := d.Detail
	if r := []rune(detail); len(r) > 1 && unicode.IsUpper(r[0]) && (unicode.IsLower(r[1]) || r[1] == ' ') {
		detail = string(unicode.ToLower(r[0])) + string(r[1:])
	}
	d.Detail = on + ": " + detail
	d.Extra = diagHosts(hosts)
}
