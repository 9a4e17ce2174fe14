package spec

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lucid-rdp/lucid-rdp/internal/hostile"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	wantRE   = regexp.MustCompile(`^# want: (?:([^:\s]+\.hcl):)?(\d+): (.+)$`)
	detailRE = regexp.MustCompile(`(?m)^# detail: (.+)$`)
)

// TestBad loads every spec in testdata/bad, a file or a folder of them, as
// validate does (every host of a fleet), and checks that it fails with the
// diagnostic named on the first line of its (first) file: "# want: LINE:
// SUMMARY", or "# want: FILE.hcl:LINE: SUMMARY" in a folder, at that line of
// that file. A "# detail: TEXT" line asks for TEXT in the diagnostic's detail.
func TestBad(t *testing.T) {
	paths, _ := filepath.Glob("testdata/bad/*")
	n := 0
	for _, path := range paths {
		want, ok := readWant(t, path)
		if !ok {
			continue // a folder of users files
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			diags := loadAll(path)
			if !diags.HasErrors() {
				t.Fatalf("no error diagnostics")
			}
			if st, _ := os.Stat(path); !st.IsDir() && len(hostsIn(path)) == 0 {
				if s, _ := Load(path); s != nil {
					t.Fatalf("Load returned a spec for a bad file")
				}
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Summary == want.summary && d.Subject != nil && d.Subject.Start.Line == want.line &&
					strings.Contains(d.Detail, want.detail) {
					if d.Subject.Filename != want.file {
						t.Errorf("diagnostic names file %q; want %q", d.Subject.Filename, want.file)
					}
					return
				}
			}
			t.Errorf("want %q at %s:%d (detail with %q); got:\n%s", want.summary, want.file, want.line, want.detail, describe(diags))
		})
	}
	if n < 30 {
		t.Fatalf("found %d bad specs; want at least 30", n)
	}
}

// want is what a bad spec must produce.
type want struct {
	file, summary, detail string
	line                  int
}

// readWant reads the want line of the bad spec at path: its own, or that of
// the first file of a folder. ok is false for a folder without *.hcl files.
func readWant(t *testing.T, path string) (w want, ok bool) {
	t.Helper()
	w.file = path
	first := path
	if st, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if st.IsDir() {
		names, err := SpecFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			return w, false
		}
		first = names[0]
	} else if !strings.HasSuffix(path, ".hcl") {
		return w, false
	}
	src, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(src, []byte("\n"))
	m := wantRE.FindStringSubmatch(string(line))
	if m == nil {
		t.Fatalf("%s: first line %q is not \"# want: [FILE.hcl:]LINE: SUMMARY\"", first, line)
	}
	if m[1] != "" {
		w.file = filepath.Join(path, m[1])
	} else if first != path {
		w.file = first
	}
	w.line, _ = strconv.Atoi(m[2])
	w.summary = m[3]
	if d := detailRE.FindSubmatch(src); d != nil {
		w.detail = string(d[1])
	}
	return w, true
}

// loadAll loads the spec at path as validate does: every host of a fleet.
func loadAll(path string) hcl.Diagnostics {
	f, diags := LoadFleet(path)
	if f == nil {
		return diags
	}
	_, more := f.ForAll()
	return append(diags, more...)
}

// hostsIn returns the hosts the spec at path declares (none when it does not
// load).
func hostsIn(path string) []string {
	f, _ := LoadFleet(path)
	if f == nil {
		return nil
	}
	return f.HostNames()
}

func describe(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		b.WriteString("  " + strconv.Itoa(line) + ": " + d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}

// TestGood loads every spec in testdata/good and the repository's own spec:
// each must be valid and already formatted.
func TestGood(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.hcl")
	examples, _ := filepath.Glob("../examples/*.hcl")
	files = append(append(files, examples...), "../lucid-rdp.hcl")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, diags := Load(file)
			if diags.HasErrors() || s == nil {
				t.Fatalf("not valid:\n%s", describe(diags))
			}
			src, _ := os.ReadFile(file)
			out, diags := Format(file, src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !bytes.Equal(out, src) {
				t.Errorf("not fmt-clean; run lucid-rdp fmt %s", file)
			}
		})
	}
}

// TestDefaultSpec pins what the repository's own lucid-rdp.hcl declares: the
// README promises two process servers on a loopback range with a session limit
// and one alert.
func TestDefaultSpec(t *testing.T) {
	s, diags := Load("../lucid-rdp.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(s.Servers) != 2 {
		t.Fatalf("%d servers; want 2", len(s.Servers))
	}
	for _, srv := range s.Servers {
		if srv.Driver != "process" || srv.Address != "127.0.0.1" || srv.PortRange == "" {
			t.Errorf("server %s: driver %q address %q range %q; want a process server on a loopback range", srv.Name, srv.Driver, srv.Address, srv.PortRange)
		}
		if srv.Sessions.Max < 1 {
			t.Errorf("server %s: no session limit", srv.Name)
		}
	}
	if len(s.Alerts) != 1 {
		t.Errorf("%d alerts; want 1", len(s.Alerts))
	}
	if loop, _ := isLoopbackListen(s.Agent.Listen); !loop {
		t.Errorf("agent listens on %s; want loopback", s.Agent.Listen)
	}
}

// TestDecode checks defaults inheritance, count expansion, units and paths on
// the full example from DESIGN.md.
func TestDecode(t *testing.T) {
	s, diags := Load("testdata/good/design.hcl")
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	dir, _ := filepath.Abs("testdata/good")
	if s.Agent.StateDir != "/var/lib/lucid-rdp" || s.Agent.Resync != 10*time.Second || s.Agent.Parallelism != 8 {
		t.Errorf("agent = %+v", s.Agent)
	}
	alice := s.Server("alice-1") // count = 1 still numbers it
	if alice == nil {
		t.Fatal("no server alice-1")
	}
	if alice.Sessions.Max != 2 || alice.Sessions.IdleTimeout != 30*time.Minute || alice.Sessions.DisconnectedTimeout != 10*time.Minute {
		t.Errorf("alice sessions = %+v", alice.Sessions)
	}
	if alice.Address != "0.0.0.0" || alice.PortRange != "desktops" {
		t.Errorf("alice address %q range %q", alice.Address, alice.PortRange)
	}
	if alice.Security.Layer != "tls" || alice.Security.Certificate != "/etc/lucid-rdp/tls/cert.pem" {
		t.Errorf("alice security = %+v", alice.Security)
	}
	kiosk := s.Server("kiosk")
	if kiosk.Driver != "docker" || kiosk.Image != "lucid/xrdp:bookworm" || kiosk.Port != 13500 {
		t.Errorf("kiosk = %+v", kiosk)
	}
	if kiosk.Resources.CPUs != 1.5 || kiosk.Resources.MemoryBytes != 2<<30 {
		t.Errorf("kiosk resources = %+v", kiosk.Resources)
	}
	// kiosk inherits sessions.max = 4 and drain_timeout from defaults.
	if kiosk.Sessions.Max != 4 || kiosk.DrainTimeout != 15*time.Minute {
		t.Errorf("kiosk inherits sessions %+v drain %v", kiosk.Sessions, kiosk.DrainTimeout)
	}
	if kiosk.Env["TZ"] != "UTC" {
		t.Errorf("kiosk env = %v", kiosk.Env)
	}
	users, _ := os.ReadFile("testdata/good/kiosk.users")
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256(users)); kiosk.UsersFile != filepath.Join(dir, "kiosk.users") || kiosk.UsersHash != want {
		t.Errorf("kiosk users_file %q hash %q; want %q (resolved against the spec folder) and %q", kiosk.UsersFile, kiosk.UsersHash, filepath.Join(dir, "kiosk.users"), want)
	}
	if kiosk.Home != "/srv/lucid-rdp/kiosk/home" {
		t.Errorf("kiosk home = %q", kiosk.Home)
	}
	var pool []string
	for _, srv := range s.Servers {
		if srv.Block == "pool" {
			pool = append(pool, srv.Name)
		}
	}
	if strings.Join(pool, ",") != "pool-1,pool-2,pool-3" {
		t.Errorf("pool expands to %v", pool)
	}
	if s.Server("pool-1").Security.Certificate != filepath.Join(dir, "tls/pool.pem") {
		t.Errorf("relative certificate not resolved against the spec folder: %q", s.Server("pool-1").Security.Certificate)
	}
	a := s.Alerts[0]
	if a.Metric != "host.memory_percent" || a.Above == nil || *a.Above != 90 || a.For != time.Minute || a.KeepFiringFor != 2*time.Minute {
		t.Errorf("alert = %+v", a)
	}
	if s.Notifiers[0].Type != "alertmanager" {
		t.Errorf("notifier = %+v", s.Notifiers[0])
	}
}

// TestAccounts: users_file and home are inherited from defaults by docker
// servers and left alone by process servers that inherit them; a bad users
// file is reported at the attribute, once, with the file's path and the line,
// and never with a hash in it.
func TestAccounts(t *testing.T) {
	dir := t.TempDir()
	hash := "$6$salt$" + strings.Repeat("x", 86)
	users := filepath.Join(dir, "team.users")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(users, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(dir, "lucid-rdp.hcl")
	src := []byte(`port_range "r" {
  from = 13500
  to   = 13509
}

defaults {
  users_file = "team.users"
  home       = "homes"
}

server "kiosk" {
  driver     = "docker"
  image      = "lucid/xrdp:bookworm"
  port_range = "r"
  count      = 2
}

server "booth" {
  driver     = "docker"
  image      = "lucid/xrdp:bookworm"
  port_range = "r"
}

server "desk" {
  port = 13600
}
`)
	write("alice:" + hash + "\n\n# a comment\nbob:" + hash + "\n")
	s, diags := Parse(spec, src)
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	for _, name := range []string{"kiosk-1", "kiosk-2", "booth"} {
		k := s.Server(name)
		if k.UsersFile != users || !strings.HasPrefix(k.UsersHash, "sha256:") || len(k.UsersHash) != 71 || k.Home != filepath.Join(dir, "homes") {
			t.Errorf("%s: users_file %q hash %q home %q", name, k.UsersFile, k.UsersHash, k.Home)
		}
	}
	if d := s.Server("desk"); d.UsersFile != "" || d.UsersHash != "" || d.Home != "" {
		t.Errorf("a process server took users_file or home from defaults: %+v", d)
	}
	before := s.Server("kiosk-1").UsersHash

	// Another hash for other contents.
	write("alice:" + hash + "\n")
	s, _ = Parse(spec, src)
	if s == nil || s.Server("kiosk-1").UsersHash == before {
		t.Error("the users file's hash did not change with its contents")
	}

	// Every problem at once, each with path and line; the hashes never show.
	write("alice:" + hash + "\nroot:" + hash + "\nBob:" + hash + "\ncarol:hunter2\nalice:" + hash + "\n  \ndave\n")
	s, diags = Parse(spec, src)
	if s != nil || len(diags) != 1 {
		t.Fatalf("want one diagnostic for the file shared by two servers; got:\n%s", describe(diags))
	}
	d := diags[0]
	if d.Summary != "Invalid users file" || d.Subject == nil || d.Subject.Start.Line != 7 {
		t.Errorf("diagnostic: %s", describe(diags))
	}
	for _, want := range []string{users + " line 2: root", users + " line 3: \"Bob\"", users + " line 4: the password of \"carol\"", users + " line 5: \"alice\" is already declared on line 1", users + " line 7: not NAME:HASH"} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, d.Detail)
		}
	}
	if strings.Contains(d.Detail, "hunter2") || strings.Contains(d.Detail, "$6$") {
		t.Errorf("detail shows a password or hash:\n%s", d.Detail)
	}

	// Not a regular file (it would never end), and no file at all.
	for _, p := range []string{"/dev/zero", filepath.Join(dir, "missing.users")} {
		s, diags = Parse(spec, bytes.Replace(src, []byte(`"team.users"`), []byte(strconv.Quote(p)), 1))
		if s != nil || len(diags) != 1 || diags[0].Summary != "Cannot read users file" || !strings.Contains(diags[0].Detail, p) {
			t.Errorf("users_file = %q:\n%s", p, describe(diags))
		}
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "2GiB": 2 << 30, "1.5GiB": 3 << 29, "1GB": 1e9, "100B": 100, "0B": 0,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := ParseSize(FormatSize(got)); back != got {
			t.Errorf("FormatSize(%d) = %q does not read back", got, FormatSize(got))
		}
	}
	for _, bad := range []string{"", "2", "2 gigs", "-1MiB", "MiB", "1e400GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"", "15", "15 minutes", "-1s", "1d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

// TestNeverEmptyOnError: a file that fails anywhere yields no spec, so it can
// never be read as "zero servers".
func TestNeverEmptyOnError(t *testing.T) {
	for _, src := range []string{"server {", "server \"a\" {\n port = 1\n}\nbogus = 1\n", "\x00"} {
		if s, diags := Parse("x.hcl", []byte(src)); s != nil || !diags.HasErrors() {
			t.Errorf("Parse(%q) = %v, %v; want nil spec and errors", src, s, diags)
		}
	}
}

// TestDiagnosticsGolden pins the text users read for bad specs
// (testdata/diagnostics.golden; go test -update rewrites it).
func TestDiagnosticsGolden(t *testing.T) {
	t.Setenv(EnvHost, "pi-2") // the host fleet-port-conflict is read as
	var out bytes.Buffer
	for _, name := range []string{"name-shell", "range-too-small", "sessions-max-zero", "listen-no-token", "syntax-error", "unknown-attribute", "fleet-port-conflict"} {
		file := "testdata/bad/" + name + ".hcl"
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, diags := Parse(file, src)
		if err := WriteDiagnostics(&out, diags, map[string][]byte{file: src}, 100, false); err != nil {
			t.Fatal(err)
		}
	}
	golden := "testdata/diagnostics.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("diagnostics text changed; got:\n%s\nrun go test ./spec -update if that is intended", out.String())
	}
}

func TestDiagnosticsJSON(t *testing.T) {
	_, diags := Load("testdata/bad/sessions-max-zero.hcl")
	out, err := DiagnosticsJSON(diags)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"valid": false`, `"error_count": 1`, `"summary": "Invalid session limit"`, `"filename": "testdata/bad/sessions-max-zero.hcl"`, `"line": 5`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("JSON lacks %s:\n%s", want, out)
		}
	}
}

func TestWarnings(t *testing.T) {
	src := "server \"a\" {\n  port  = 13500\n  image = \"x\"\n}\nalert \"x\" {\n  metric  = \"server.up\"\n  below   = 1\n  servers = [\"zzz*\"]\n}\n"
	s, diags := Parse("w.hcl", []byte(src))
	if s == nil {
		t.Fatalf("warnings must not reject the spec: %s", describe(diags))
	}
	got := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(describe(diags)))
	for sc.Scan() {
		got[strings.SplitN(strings.TrimSpace(sc.Text()), ": ", 3)[1]] = true
	}
	for _, want := range []string{"Image is ignored", "Pattern matches no server", "Nowhere to notify"} {
		if !got[want] {
			t.Errorf("no %q warning in:\n%s", want, describe(diags))
		}
	}
}

// TestIdleTimeoutUnderAMinuteWarns: xrdp cannot end a session sooner than 60 s
// after the last input, so a shorter idle_timeout loads with a warning.
func TestIdleTimeoutUnderAMinuteWarns(t *testing.T) {
	src := "server \"a\" {\n  port = 13500\n  sessions {\n    idle_timeout = \"30s\"\n  }\n}\n"
	s, diags := Parse("idle.hcl", []byte(src))
	if s == nil || diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject.Start.Line != 4 {
		t.Fatalf("spec %v, diagnostics %v", s != nil, diags)
	}
}

// TestHostileSpecs: a spec nested past MaxNesting or larger than MaxSpecSize
// is refused with one diagnostic before the parser sees it, quickly.
func TestHostileSpecs(t *testing.T) {
	deep := "server \"a\" {\n  port = " + strings.Repeat("(", 240000) + "1" + strings.Repeat(")", 240000) + "\n}\n"
	big := "# " + strings.Repeat("x", MaxSpecSize) + "\n"
	for name, src := range map[string]string{"nested": deep, "large": big} {
		start := time.Now()
		s, diags := Parse(name+".hcl", []byte(src))
		if s != nil || len(diags) != 1 || !diags.HasErrors() {
			t.Errorf("%s: spec %v, %d diagnostics: %v", name, s != nil, len(diags), diags)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s", name, d)
		}
	}
	if _, err := ReadFile("/dev/zero"); err == nil {
		t.Error("ReadFile read a device")
	}
	fifo := filepath.Join(t.TempDir(), "lucid-rdp.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fifo); err == nil { // and it must not block: nobody writes
		t.Error("ReadFile read a FIFO")
	}
}

// TestParseRequestReadsOnlyAllowedUsersFiles: a spec from a request may name
// only users files the operator's spec names; another is refused unread.
func TestParseRequestReadsOnlyAllowedUsersFiles(t *testing.T) {
	users, err := filepath.Abs("testdata/good/kiosk.users")
	if err != nil {
		t.Fatal(err)
	}
	src := []byte(fmt.Sprintf("server \"k\" {\n  driver     = \"docker\"\n  image      = \"lucid/xrdp:bookworm\"\n  port       = 13500\n  users_file = %q\n}\n", users))
	if s, diags := ParseRequest("request.hcl", src, func(p string) bool { return p == users }); diags.HasErrors() || s.Servers[0].UsersHash == "" {
		t.Fatalf("allowed users file: %v", diags)
	}
	s, diags := ParseRequest("request.hcl", src, nil)
	if s != nil || !diags.HasErrors() || !strings.Contains(diags[0].Detail+diags[0].Summary, "not one the running spec names") {
		t.Fatalf("a users file the running spec does not name: %v", diags)
	}
}

// TestTokenFileMode: a token file anyone on the host can read is refused; the
// same file made private is accepted. (Made here, not checked in: a checkout's
// umask decides the mode of checked-in files.)
func TestTokenFileMode(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(token, 0o644); err != nil {
		t.Fatal(err)
	}
	src := []byte(fmt.Sprintf("agent {\n  listen     = \"0.0.0.0:8090\"\n  token_file = %q\n}\n", token))
	if _, diags := Parse(filepath.Join(dir, "lucid-rdp.hcl"), src); !diags.HasErrors() || diags[0].Summary != "Invalid token_file" {
		t.Fatalf("world-readable token file: %v", diags)
	}
	if err := os.Chmod(token, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, diags := Parse(filepath.Join(dir, "lucid-rdp.hcl"), src); diags.HasErrors() {
		t.Fatalf("private token file: %v", diags)
	}
}

// TestHostileCorpus: every spec of the hostile corpus is refused with its
// diagnostic, and parsing, formatting and printing the diagnostics each stay
// within a time and an allocation bound (generous for a loaded 2-core CI
// machine; the figures are logged).
func TestHostileCorpus(t *testing.T) {
	const (
		timeBound  = 3 * time.Second
		allocBound = 512 << 20
	)
	cases, err := hostile.Load("testdata/hostile")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("%d hostile cases; the corpus went missing", len(cases))
	}
	for _, c := range cases {
		var s *Spec
		var diags hcl.Diagnostics
		var out bytes.Buffer
		took, alloc := measure(func() {
			s, diags = Parse(c.Name+".hcl", c.Src)
			_ = WriteDiagnostics(&out, diags, map[string][]byte{c.Name + ".hcl": c.Src}, 100, false)
		})
		// Many cases are valid syntax, which fmt formats: only its cost is judged.
		ftook, falloc := measure(func() { _, _ = Format(c.Name+".hcl", c.Src) })
		t.Logf("%-22s %7d bytes: parse %6.1f ms %6.1f MiB, %6d diagnostics; fmt %6.1f ms %6.1f MiB", c.Name, len(c.Src),
			float64(took.Microseconds())/1000, float64(alloc)/(1<<20), len(diags), float64(ftook.Microseconds())/1000, float64(falloc)/(1<<20))
		if ftook > timeBound || falloc > allocBound {
			t.Errorf("%s: fmt took %s and %d MiB, beyond the bound of %s and %d MiB", c.Name, ftook, falloc>>20, timeBound, allocBound>>20)
		}
		if s != nil || !diags.HasErrors() {
			t.Errorf("%s: accepted", c.Name)
			continue
		}
		var first *hcl.Diagnostic
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				first = d
				break
			}
		}
		if !strings.Contains(first.Summary+" "+first.Detail, c.Want) || first.Subject == nil {
			t.Errorf("%s: first error %q (%q) at %v; want %q with a place", c.Name, first.Summary, first.Detail, first.Subject, c.Want)
		}
		if took > timeBound || alloc > allocBound {
			t.Errorf("%s: %s and %d MiB, beyond the bound of %s and %d MiB", c.Name, took, alloc>>20, timeBound, allocBound>>20)
		}
		if len(diags) > MaxShownDiagnostics && !strings.Contains(out.String(), fmt.Sprintf("and %d more", len(diags)-MaxShownDiagnostics)) {
			t.Errorf("%s: %d diagnostics printed without a cap", c.Name, len(diags))
		}
	}
}

// measure runs f and returns how long it took and how much it allocated (an
// upper bound of the memory it needed at once).
func measure(f func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return took, after.TotalAlloc - before.TotalAlloc
}

// TestBoundsReadStringsAsHCLDoes: brackets inside strings, heredocs and
// comments do not count towards nesting, brackets inside interpolations do,
// and literal $${ and %%{ open nothing.
func TestBoundsReadStringsAsHCLDoes(t *testing.T) {
	deep := strings.Repeat("(", MaxNesting) + "1" + strings.Repeat(")", MaxNesting)
	quiet := "server \"a\" {\n  command = [<<-EOT\n    say \"hi " + deep + "\n    $${x} %%{y}\n    EOT\n  , \"b${\"c\"}\"]\n" +
		"  env = { A = \"" + deep + " # no comment\" } # " + deep + "\n  /* " + deep + " */\n}\n"
	if diags := checkBounds("quiet.hcl", []byte(quiet)); diags.HasErrors() {
		t.Errorf("brackets in strings, a heredoc and comments counted: %v", diags)
	}
	loud := "server \"a\" {\n  image = \"x${" + deep + "}\"\n}\n"
	if diags := checkBounds("loud.hcl", []byte(loud)); !diags.HasErrors() {
		t.Error("brackets inside an interpolation were not counted")
	}
}

// TestParseRequestLooksAtNoHostPath: a spec from a request is not checked
// against the host's files (its agent block is replaced by the running one),
// so a request cannot learn whether a path exists from the diagnostics.
func TestParseRequestLooksAtNoHostPath(t *testing.T) {
	src := []byte("agent {\n  listen     = \"0.0.0.0:8090\"\n  token_file = \"/root/.no-such-key\"\n  state_dir  = \"/var/lib/no-such-folder/x\"\n}\n")
	if _, diags := ParseRequest("request.hcl", src, nil); diags.HasErrors() {
		t.Fatalf("a request's agent block was checked against the host: %v", diags)
	}
	if _, diags := Parse("lucid-rdp.hcl", src); !diags.HasErrors() {
		t.Fatal("the operator's own spec was not checked against the host")
	}
}

// TestAlertCooldownAndSeverity: an alert's cooldown defaults by action, and
// cooldown and severity are taken as written.
func TestAlertCooldownAndSeverity(t *testing.T) {
	src := []byte(`
alert "a" {
  metric  = "server.sessions"
  above   = 3
  action  = "restart"
}
alert "b" {
  metric   = "host.load1"
  above    = 8
  action   = "drain"
  servers  = ["*"]
  cooldown = "5s"
  severity = "critical"
}
`)
	s, diags := Parse("x.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := s.Alerts[0].Cooldown; got != 10*time.Minute {
		t.Errorf("restart cooldown = %s; want the default 10m", got)
	}
	if a := s.Alerts[1]; a.Cooldown != 5*time.Second || a.Severity != "critical" {
		t.Errorf("b: cooldown %s, severity %q; want 5s, critical", a.Cooldown, a.Severity)
	}
}
