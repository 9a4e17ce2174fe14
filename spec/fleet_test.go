package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestFleet resolves each host of testdata/fleet: three hosts sharing an
// agent, a port range and defaults; desk servers by a glob over names, a kiosk
// by a label, a server of one host's own, an alert and a notifier by glob.
func TestFleet(t *testing.T) {
	f, diags := LoadFleet("testdata/fleet")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", describe(diags))
	}
	dir, _ := filepath.Abs("testdata/fleet")
	if f.Dir != dir || !f.IsFleet() || strings.Join(f.HostNames(), ",") != "lab-1,pi-1,pi-2" {
		t.Fatalf("dir %q, hosts %v", f.Dir, f.HostNames())
	}
	pi2 := f.Host("pi-2")
	if pi2.Address != "http://10.0.0.22:8090" || pi2.TokenFile != filepath.Join(dir, "tokens/pi-2") || pi2.Labels["role"] != "kiosk" || pi2.Labels["room"] != "hall" {
		t.Errorf("pi-2 = %+v", pi2)
	}
	want := map[string]struct {
		servers, alerts, notifiers string
	}{
		"lab-1": {"desk-1,desk-2", "", ""},
		"pi-1":  {"kiosk", "pi-memory", "ops"},
		"pi-2":  {"kiosk,hall-display", "pi-memory", "ops"},
	}
	for host, w := range want {
		s, diags := f.For(host)
		if s == nil || len(diags) > 0 {
			t.Fatalf("%s: %s", host, describe(diags))
		}
		var servers, alerts, notifiers []string
		for _, srv := range s.Servers {
			servers = append(servers, srv.Name)
			// Shared defaults and the shared range reach every host.
			if srv.DrainTimeout.String() != "10m0s" {
				t.Errorf("%s: server %s drain_timeout %s; want the shared 10m", host, srv.Name, srv.DrainTimeout)
			}
		}
		for _, a := range s.Alerts {
			alerts = append(alerts, a.Name)
		}
		for _, n := range s.Notifiers {
			notifiers = append(notifiers, n.Name)
		}
		if got := strings.Join(servers, ","); got != w.servers {
			t.Errorf("%s: servers %s; want %s", host, got, w.servers)
		}
		if got := strings.Join(alerts, ","); got != w.alerts {
			t.Errorf("%s: alerts %s; want %s", host, got, w.alerts)
		}
		if got := strings.Join(notifiers, ","); got != w.notifiers {
			t.Errorf("%s: notifiers %s; want %s", host, got, w.notifiers)
		}
		if s.Host != host || s.Dir != dir || s.Agent.StateDir != filepath.Join(dir, ".lucid-rdp") || s.PortRange("desktops") == nil {
			t.Errorf("%s: host %q dir %q state_dir %q ranges %v", host, s.Host, s.Dir, s.Agent.StateDir, s.PortRanges)
		}
		// The spec's source is the host's part alone, without hosts.
		if strings.Contains(string(s.Source), "hosts") || strings.Contains(string(s.Source), "host \"") {
			t.Errorf("%s: source holds hosts or host blocks:\n%s", host, s.Source)
		}
	}
	if s, _ := f.For("pi-2"); s.Server("kiosk").Sessions.Max != 1 || s.Server("hall-display").Port != 13500 {
		t.Errorf("pi-2: kiosk %+v, hall-display %+v", s.Server("kiosk").Sessions, s.Server("hall-display"))
	}

	specs, diags := f.ForAll()
	if len(specs) != 3 || len(diags) > 0 {
		t.Fatalf("ForAll: %d specs, %s", len(specs), describe(diags))
	}
	for i, s := range specs {
		if s == nil || s.Host != f.Hosts[i].Name {
			t.Errorf("ForAll()[%d] = %v; want the spec of %s", i, s, f.Hosts[i].Name)
		}
	}
}

// TestFleetFilesAreFmtClean: the fleet example is formatted.
func TestFleetFilesAreFmtClean(t *testing.T) {
	names, err := SpecFiles("testdata/fleet")
	if err != nil || len(names) != 4 {
		t.Fatalf("%v %v", names, err)
	}
	for _, name := range names {
		src, _ := os.ReadFile(name)
		if out, diags := Format(name, src); diags.HasErrors() || string(out) != string(src) {
			t.Errorf("%s is not fmt-clean", name)
		}
	}
}

// TestUnknownHost: a host the fleet does not declare is an error naming the
// declared ones, never an empty spec; Load resolves $LUCID_RDP_HOST.
func TestUnknownHost(t *testing.T) {
	f, _ := LoadFleet("testdata/fleet")
	s, diags := f.For("pi-9")
	if s != nil || len(diags) != 1 || diags[0].Summary != "Unknown host" ||
		!strings.Contains(diags[0].Detail, "host pi-9 is not in the fleet spec (declared: lab-1, pi-1, pi-2); add a host block or set LUCID_RDP_HOST") {
		t.Fatalf("For(pi-9) = %v, %s", s, describe(diags))
	}

	t.Setenv(EnvHost, "PI-2") // host names are read without regard to case
	s, diags = Load("testdata/fleet")
	if s == nil || diags.HasErrors() || s.Host != "pi-2" || len(s.Servers) != 2 {
		t.Fatalf("Load as pi-2: %v %s", s, describe(diags))
	}
	t.Setenv(EnvHost, "printer-3")
	if s, diags := Load("testdata/fleet"); s != nil || !diags.HasErrors() || !strings.Contains(diags[len(diags)-1].Detail, "host printer-3 is not in the fleet spec") {
		t.Fatalf("Load as printer-3: %v %s", s, describe(diags))
	}
	// A one-host spec is the same whatever the host.
	if s, diags := Load("../lucid-rdp.hcl"); s == nil || diags.HasErrors() || s.Host != "" {
		t.Fatalf("one-host spec as printer-3: %v %s", s, describe(diags))
	}
}

// TestThisHost: $LUCID_RDP_HOST wins over the host name.
func TestThisHost(t *testing.T) {
	t.Setenv(EnvHost, "")
	name, err := ThisHost()
	h, _ := os.Hostname()
	if err != nil || name != strings.ToLower(h) {
		t.Errorf("ThisHost() = %q, %v; want the host name %q", name, err, h)
	}
	t.Setenv(EnvHost, " Kiosk-7 ")
	if name, err := ThisHost(); err != nil || name != "kiosk-7" {
		t.Errorf("ThisHost() = %q, %v; want kiosk-7", name, err)
	}
}

// fleetOf parses files (name, source, ...) written into a temporary folder.
func fleetOf(t *testing.T, nameSrc ...string) (*Fleet, hcl.Diagnostics) {
	t.Helper()
	return LoadFleet(fleetDir(t, nameSrc...))
}

// fleetDiags writes the files as fleetOf does and returns every diagnostic
// of loading them and resolving every host's spec (loadAll).
func fleetDiags(t *testing.T, nameSrc ...string) hcl.Diagnostics {
	t.Helper()
	return loadAll(fleetDir(t, nameSrc...))
}

// fleetDir writes name, source pairs into a new folder and returns it.
func fleetDir(t *testing.T, nameSrc ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < len(nameSrc); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, nameSrc[i]), []byte(nameSrc[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const threeHosts = `host "lab-1" {
  labels = { role = "desk" }
}

host "pi-1" {
  labels = { role = "kiosk" }
}

host "pi-2" {
  labels = { role = "kiosk" }
}
`

// TestSelectorWarnings: an entry that selects no declared host is a warning
// at that entry, and a block that applies to no host a warning at its hosts;
// the spec stays valid.
func TestSelectorWarnings(t *testing.T) {
	f, diags := fleetOf(t, "fleet.hcl", threeHosts+`
server "kiosk" {
  hosts = ["role=kiosk", "role=printer", "lab-*"]
  port  = 13500
}

server "nowhere" {
  hosts = ["printer-*"]
  port  = 13501
}

server "empty" {
  hosts = []
  port  = 13502
}
`)
	if f == nil {
		t.Fatalf("warnings rejected the spec:\n%s", describe(diags))
	}
	type got struct {
		summary   string
		line, col int
	}
	var warnings []got
	for _, d := range diags {
		if d.Severity != hcl.DiagWarning {
			t.Errorf("not a warning: %s", describe(hcl.Diagnostics{d}))
		}
		warnings = append(warnings, got{d.Summary, d.Subject.Start.Line, d.Subject.Start.Column})
	}
	want := []got{{"No host matches", 14, 26}, {"Block applies to no host", 19, 11}, {"Block applies to no host", 24, 11}}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %v; want %v:\n%s", warnings, want, describe(diags))
	}
	if !strings.Contains(diags[0].Detail, `"role=printer" matches none of the declared hosts (lab-1, pi-1, pi-2)`) {
		t.Errorf("detail: %s", diags[0].Detail)
	}
	specs, more := f.ForAll()
	if more.HasErrors() || len(specs[0].Servers) != 1 || len(specs[1].Servers) != 1 {
		t.Errorf("ForAll: %s", describe(more))
	}
}

// TestFleetErrors: the rules of hosts, each with the diagnostic it must
// produce (the bad-spec corpus holds more, file by file).
func TestFleetErrors(t *testing.T) {
	for _, c := range []struct {
		name, src, summary, detail string
	}{
		{"hosts without host blocks in an alert", "alert \"a\" {\n  metric = \"host.load1\"\n  above  = 4\n  hosts  = [\"x\"]\n}\n",
			"No host blocks", `hosts needs host blocks: alert "a" selects hosts`},
		{"bad glob", threeHosts + "server \"a\" {\n  hosts = [\"pi-[\"]\n  port  = 1\n}\n",
			"Invalid host selector", "not a valid glob pattern"},
		{"empty label value", "host \"a\" {\n  labels = { role = \"\" }\n}\n", "Invalid label value", "label role"},
		{"reserved label", "host \"a\" {\n  labels = { __role = \"x\" }\n}\n", "Invalid label name", "__role"},
		{"hosts on a host block", "host \"a\" {\n  hosts = [\"b\"]\n}\n", "Unsupported argument", ""},
		{"two agents in one host", threeHosts + "agent {\n}\n\nagent {\n  hosts = [\"lab-1\"]\n}\n",
			"Duplicate agent block", "on host lab-1: the agent blocks at"},
		{"same port range twice on a host", threeHosts + "port_range \"r\" {\n  from = 1\n  to   = 2\n}\n\nport_range \"r\" {\n  hosts = [\"pi-2\"]\n  from  = 5\n  to    = 6\n}\n",
			"Duplicate port range name", "on host pi-2:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			diags := fleetDiags(t, "fleet.hcl", c.src)
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Summary == c.summary && strings.Contains(d.Detail, c.detail) {
					return
				}
			}
			t.Errorf("want %q with %q; got:\n%s", c.summary, c.detail, describe(diags))
		})
	}
}

// TestSharedProblemSaidOnce: a problem of a block that several hosts take is
// one diagnostic naming them, not one per host (nor one per server).
func TestSharedProblemSaidOnce(t *testing.T) {
	diags := fleetDiags(t, "fleet.hcl", threeHosts+`
alert "load" {
  metric   = "host.load1"
  above    = 8
  severity = "Loud!"
}

server "a" {
  hosts = ["pi-*"]
  port  = 13500
}

server "b" {
  hosts = ["pi-*"]
  port  = 13500
}
`)
	got := map[string]string{}
	for _, d := range diags {
		got[d.Summary] = d.Detail + " " + strings.Join(DiagnosticHosts(d), ",")
	}
	want := map[string]string{
		"Invalid severity":  `on every host: severity = "Loud!"; use a word such as "warning" or "critical" (letters, digits, _ and -). lab-1,pi-1,pi-2`,
		"Nowhere to notify": `on every host: alert "load" notifies, but no notify block is declared: it will show in status and metrics only. lab-1,pi-1,pi-2`,
		"Duplicate port":    `on hosts pi-1, pi-2: servers "a" and "b" both want port 13500 on 127.0.0.1; each fixed port serves one server. pi-1,pi-2`,
	}
	if len(diags) != len(want) || !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant: %v", describe(diags), want)
	}

	// A bad default is found once per server that inherits it: said once.
	diags = fleetDiags(t, "fleet.hcl", threeHosts+`
defaults {
  drain_timeout = "soon"
}

server "a" {
  hosts = ["pi-*"]
  port  = 13500
}

server "b" {
  hosts = ["pi-*"]
  port  = 13501
}
`)
	if len(diags) != 1 || !strings.HasPrefix(diags[0].Detail, "on hosts pi-1, pi-2: drain_timeout: ") || strings.Join(DiagnosticHosts(diags[0]), ",") != "pi-1,pi-2" {
		t.Errorf("got:\n%s", describe(diags))
	}
}

// TestOtherHostsPartLeavesMine: editing what applies to pi-1 and pi-2 only
// (their servers, a host block, a shared block's hosts when lab-1 stays in
// it) leaves lab-1's resolved spec, and so its hash and plan, as they were.
func TestOtherHostsPartLeavesMine(t *testing.T) {
	dir := t.TempDir()
	names, _ := SpecFiles("testdata/fleet")
	for _, name := range names {
		src, _ := os.ReadFile(name)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := "alert \"load\" {\n  hosts  = [\"lab-1\", \"pi-1\"]\n  metric = \"host.load1\"\n  above  = 8\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "zz-shared.hcl"), []byte(shared), 0o644); err != nil {
		t.Fatal(err)
	}
	resolve := func(host string) *Spec {
		t.Helper()
		s, diags := Load(dir)
		if diags.HasErrors() {
			t.Fatal(describe(diags))
		}
		if s.Host != host {
			t.Fatalf("resolved %s; want %s", s.Host, host)
		}
		return s
	}
	edit := func(file, old, new string) {
		t.Helper()
		p := filepath.Join(dir, file)
		src, _ := os.ReadFile(p)
		if !strings.Contains(string(src), old) {
			t.Fatalf("%s lacks %q", file, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvHost, "lab-1")
	lab := resolve("lab-1")
	t.Setenv(EnvHost, "pi-1")
	pi := resolve("pi-1")

	edit("kiosks.hcl", "    max = 1\n", "    max = 3\n    idle_timeout = \"20m\"\n")           // pi-1 and pi-2's kiosk, with a line more
	edit("hosts.hcl", "http://10.0.0.22:8090", "http://10.0.0.99:8090")                        // pi-2's host block
	edit("zz-shared.hcl", `["lab-1", "pi-1"]`, `["lab-1", "pi-1", "pi-2"]`)                    // pi-2 joins a block lab-1 has
	edit("hosts.hcl", "host \"pi-2\" {\n", "# The hall.\nhost \"pi-2\" {\n  # its own line\n") // lines move in a file lab-1 reads

	t.Setenv(EnvHost, "lab-1")
	if after := resolve("lab-1"); !reflect.DeepEqual(after, lab) {
		t.Errorf("lab-1's spec changed with pi-1 and pi-2's part:\nbefore %s\nafter  %s", lab.Source, after.Source)
	}
	t.Setenv(EnvHost, "pi-1")
	if after := resolve("pi-1"); reflect.DeepEqual(after, pi) || string(after.Source) == string(pi.Source) {
		t.Error("pi-1's spec did not change with its kiosk: the test proves nothing")
	}
}

// TestReadFiles: a folder is its *.hcl files by name, not those of folders
// inside it, nor hidden files or editors' temporary and lock files; one
// without any is an error, and so is a FIFO in it.
func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.hcl", "a.hcl", ".a.hcl.swp", ".#a.hcl", "#a.hcl#", "~a.hcl", "a.hcl~", "notes.txt", ".hidden.hcl", "c.hcl.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("# "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub.hcl", "c.hcl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Name))
		if filepath.Dir(f.Name) != dir {
			t.Errorf("file named %s; want it under %s", f.Name, dir)
		}
	}
	if strings.Join(names, ",") != "a.hcl,b.hcl" {
		t.Errorf("read %v; want a.hcl, b.hcl", names)
	}

	empty := t.TempDir()
	if _, err := ReadFiles(empty); err == nil || !strings.Contains(err.Error(), "holds no *.hcl file") {
		t.Errorf("empty folder: %v", err)
	}
	if s, diags := Load(empty); s != nil || !diags.HasErrors() {
		t.Errorf("an empty folder loaded as a spec: %v", s)
	}
	if err := syscall.Mkfifo(filepath.Join(empty, "x.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFiles(empty); err == nil { // and it must not block
		t.Error("read a FIFO")
	}

	big := t.TempDir()
	chunk := "# " + strings.Repeat("x", MaxSpecSize/2) + "\n"
	for _, name := range []string{"a.hcl", "b.hcl"} {
		if err := os.WriteFile(filepath.Join(big, name), []byte(chunk), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadFiles(big); err == nil || !strings.Contains(err.Error(), "together") {
		t.Errorf("two halves of the limit and more: %v", err)
	}
}

// TestFolderSpec: a folder without host blocks is one spec; diagnostics name
// the real file and line; its Dir is the folder; a folder of one file is that
// file, to the byte of its hash.
func TestFolderSpec(t *testing.T) {
	dir := t.TempDir()
	one := "agent {\n  state_dir = \"state\"\n}\n\nport_range \"r\" {\n  from = 13389\n  to   = 13399\n}\n"
	two := "server \"a\" {\n  port_range = \"r\"\n}\n\nserver \"b\" {\n  port_range = \"nope\"\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "10-agent.hcl"), []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "20-servers.hcl"), []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	s, diags := Load(dir)
	if s != nil || len(diags) != 1 || diags[0].Subject.Filename != filepath.Join(dir, "20-servers.hcl") || diags[0].Subject.Start.Line != 6 {
		t.Fatalf("want Unknown port range at 20-servers.hcl:6; got %s", describe(diags))
	}
	if err := os.WriteFile(filepath.Join(dir, "20-servers.hcl"), []byte(strings.Replace(two, "nope", "r", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, diags = Load(dir)
	if s == nil || len(diags) > 0 {
		t.Fatal(describe(diags))
	}
	if s.Dir != dir || s.Filename != dir || s.Agent.StateDir != filepath.Join(dir, "state") || len(s.Servers) != 2 || string(s.Source) != one+strings.Replace(two, "nope", "r", 1) {
		t.Errorf("dir %q filename %q state_dir %q servers %d source %q", s.Dir, s.Filename, s.Agent.StateDir, len(s.Servers), s.Source)
	}

	solo := t.TempDir()
	file := filepath.Join(solo, "lucid-rdp.hcl")
	src, _ := os.ReadFile("../lucid-rdp.hcl")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	a, _ := Load(file)
	b, _ := Load(solo)
	if a == nil || b == nil || string(a.Source) != string(src) || string(b.Source) != string(src) || a.Dir != b.Dir {
		t.Errorf("a folder of one file differs from the file")
	}
}

// TestTooManyHosts: host blocks are bounded like the other blocks, across the
// files of a folder.
func TestTooManyHosts(t *testing.T) {
	var a, b strings.Builder
	for i := range MaxHosts/2 + 1 {
		a.WriteString("host \"a-" + strconv.Itoa(i) + "\" {\n}\n")
		b.WriteString("host \"b-" + strconv.Itoa(i) + "\" {\n}\n")
	}
	f, diags := fleetOf(t, "a.hcl", a.String(), "b.hcl", b.String())
	if f != nil || len(diags) != 1 || diags[0].Summary != "Too many host blocks" || !strings.HasSuffix(diags[0].Subject.Filename, "b.hcl") {
		t.Fatalf("%d hosts: %s", MaxHosts+2, describe(diags))
	}
}
