package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

const fleetDir = "../../spec/testdata/fleet"

// copyFleet copies the fleet example into a temporary folder, so that its
// state folder (.lucid-rdp, relative) is the test's own.
func copyFleet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names, err := spec.SpecFiles(fleetDir)
	if err != nil || len(names) == 0 {
		t.Fatalf("%v %v", names, err)
	}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestValidateFleet: validate checks every host of a fleet folder and says,
// one line a host, what each has.
func TestValidateFleet(t *testing.T) {
	t.Setenv(spec.EnvHost, "not-in-the-fleet") // validate checks every host, whichever this is
	code, stdout, stderr := runCLI(t, "validate", fleetDir)
	want := fleetDir + " is valid: 3 hosts.\n" +
		"  lab-1: 2 servers, 1 port range, 0 alerts\n" +
		"  pi-1: 1 server, 1 port range, 1 alert\n" +
		"  pi-2: 2 servers, 1 port range, 1 alert\n"
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}

	code, stdout, _ = runCLI(t, "validate", "-json", fleetDir)
	var res spec.JSONResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout)
	}
	if !res.Valid || len(res.Hosts) != 3 || res.Hosts[2] != (spec.JSONHost{Name: "pi-2", Valid: true, Servers: 2}) {
		t.Errorf("%+v", res)
	}
}

// TestValidateFleetProblems: a warning (a selector that matches no host) is
// shown with its file and line and does not fail; an error of one host fails,
// names the host, and validate says which hosts are not valid.
func TestValidateFleetProblems(t *testing.T) {
	dir := copyFleet(t)
	extra := "server \"printer\" {\n  hosts = [\"lab-*\", \"role=printer\"]\n  port  = 13600\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "printers.hcl"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "validate", dir)
	file := filepath.Join(dir, "printers.hcl")
	if code != exitOK || !strings.Contains(stderr, file+":2:21: warning: No host matches") || !strings.Contains(stdout, "is valid: 3 hosts.") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "validate", "-json", dir)
	if code != exitOK || !strings.Contains(stdout, `"severity": "warning"`) || !strings.Contains(stdout, `"warning_count": 1`) {
		t.Errorf("exit %d\n%s", code, stdout)
	}

	// The printer's port is the hall display's on pi-2 only.
	extra = strings.Replace(extra, `"lab-*", "role=printer"`, `"lab-*", "pi-2"`, 1)
	extra = strings.Replace(extra, "13600", "13500", 1)
	if err := os.WriteFile(file, []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "validate", dir)
	for _, want := range []string{file + ":3:11: error: Duplicate port", " 3 |   port  = 13500\n", "on host pi-2: servers \"hall-display\" and \"printer\" both want port 13500",
		"is not valid: errors on pi-2 (1 of 3 hosts)."} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != exitError || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "validate", "-json", dir)
	var res spec.JSONResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitError {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout)
	}
	if res.Valid || len(res.Diagnostics) != 1 || strings.Join(res.Diagnostics[0].Hosts, ",") != "pi-2" ||
		!res.Hosts[0].Valid || res.Hosts[0].Servers != 3 || res.Hosts[2].Valid || res.Hosts[2].ErrorCount != 1 {
		t.Errorf("%+v", res)
	}
}

// TestPlanHost: plan -host NAME plans as that host would, changing nothing;
// plain plan resolves this host ($LUCID_RDP_HOST); an undeclared host is an
// error, never an empty plan that destroys everything.
func TestPlanHost(t *testing.T) {
	dir := copyFleet(t)
	t.Setenv(spec.EnvHost, "lab-1")
	t.Setenv("NO_COLOR", "1")

	code, stdout, stderr := runCLI(t, "plan", "-config", dir, "-host", "pi-2", "-detailed-exitcode")
	for _, want := range []string{"Planning as host pi-2 of " + dir + " would, against this machine's state folder " + filepath.Join(dir, ".lucid-rdp") + ". Nothing is changed.",
		`+ server "kiosk"`, `+ server "hall-display"`, "Plan: 2 to create, 0 to replace, 0 to update, 0 to destroy."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan -host pi-2 lacks %q:\n%s%s", want, stdout, stderr)
		}
	}
	if code != exitChanges || strings.Contains(stdout, "desk") {
		t.Errorf("exit %d; want 2, and no desk (lab-1's):\n%s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, ".lucid-rdp")); err == nil {
		t.Error("plan -host made the state folder")
	}

	// Its spec_hash is pi-2's resolved spec's.
	code, stdout, _ = runCLI(t, "plan", "-config", dir, "-host", "pi-2", "-json")
	var p reconciler.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout)
	}
	f, _ := spec.LoadFleet(dir)
	pi2, _ := f.For("pi-2")
	if p.SpecHash != reconciler.SpecHash(pi2) || len(p.Changes) != 2 {
		t.Errorf("spec_hash %s, %d changes; want %s, 2", p.SpecHash, len(p.Changes), reconciler.SpecHash(pi2))
	}

	// Without -host: this host, lab-1.
	code, stdout, _ = runCLI(t, "plan", "-config", dir)
	if code != exitOK || !strings.Contains(stdout, "This is host lab-1 of "+dir+".") || !strings.Contains(stdout, `+ server "desk-2"`) || strings.Contains(stdout, "kiosk") {
		t.Errorf("plan as lab-1: exit %d\n%s", code, stdout)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-config", dir, "-host", "pi-9"}, "host pi-9 is not in the fleet spec (declared: lab-1, pi-1, pi-2); add a host block or set"},
		{[]string{"plan", "-config", dir, "-host", "pi-2", "-out", filepath.Join(dir, "x.plan")}, "-out does not go with it"},
		{[]string{"plan", "-config", "../../lucid-rdp.hcl", "-host", "pi-2"}, "declares no hosts"},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) || strings.Contains(stdout, "Plan:") {
			t.Errorf("%v: exit %d; want 1 and %q:\n%s%s", c.args, code, c.want, stdout, stderr)
		}
	}
	t.Setenv(spec.EnvHost, "printer-3")
	for _, args := range [][]string{{"plan", "-config", dir}, {"apply", "-config", dir, "-auto-approve"}} {
		code, stdout, stderr = runCLI(t, args...)
		if code != exitError || !strings.Contains(stderr, "host printer-3 is not in the fleet spec") || strings.Contains(stdout, "destroy") {
			t.Errorf("%v as printer-3: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}

// TestFmtFolderSkipsHiddenFiles: fmt on a folder formats the files a spec
// folder is read from, and leaves an editor's lock file (a dangling symlink)
// and hidden files alone.
func TestFmtFolderSkipsHiddenFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(messy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".b.hcl"), []byte(messy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("user@host.1234", filepath.Join(dir, ".#a.hcl")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "fmt", "-check", dir)
	if code != exitFmt || strings.TrimSpace(stdout) != filepath.Join(dir, "a.hcl") || stderr != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}

var wantInFolderRE = regexp.MustCompile(`^# want: ([^:\s]+\.hcl):(\d+): (.+)`)

// TestValidateBadFolders: validate exits 1 on every bad spec folder and
// reports the expected summary at FOLDER/FILE:LINE (TestValidateBadFiles
// does the files).
func TestValidateBadFolders(t *testing.T) {
	paths, _ := filepath.Glob("../../spec/testdata/bad/*")
	n := 0
	for _, dir := range paths {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		names, _ := spec.SpecFiles(dir)
		if len(names) == 0 {
			continue // users files
		}
		n++
		src, _ := os.ReadFile(names[0])
		m := wantInFolderRE.FindStringSubmatch(string(src))
		if m == nil {
			t.Fatalf("%s: no want line", names[0])
		}
		code, _, stderr := runCLI(t, "validate", dir)
		want := filepath.Join(dir, m[1]) + ":" + m[2] + ":"
		if code != exitError || !strings.Contains(stderr, want) || !strings.Contains(stderr, m[3]) {
			t.Errorf("%s: exit %d; want 1 and %q, %q:\n%s", dir, code, want, m[3], stderr)
		}
	}
	if n == 0 {
		t.Fatal("no bad spec folders found")
	}
}

// TestValidateFleetOffHost: what a host's part names on that host (here the
// agent's token_file) is not looked for where the fleet is reviewed, since
// CI or a laptop does not have it; the host's own load (plan -host, as its
// agent does) still checks it.
func TestValidateFleetOffHost(t *testing.T) {
	dir := t.TempDir()
	src := "host \"pi-1\" {\n  address = \"http://10.0.0.21:8090\"\n}\n\n" +
		"agent {\n  hosts      = [\"pi-1\"]\n  state_dir  = \".lucid-rdp\"\n  listen     = \"0.0.0.0:8090\"\n  token_file = \"/etc/lucid-rdp/no-such-token\"\n}\n\n" +
		"server \"desk\" {\n  port = 13389\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "fleet.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLI(t, "validate", dir); code != exitOK || !strings.Contains(stdout, "is valid: 1 host") {
		t.Errorf("validate: exit %d\n%s%s; want valid: the token file is pi-1's, not this machine's", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "plan", "-config", dir, "-host", "pi-1"); code != exitError || !strings.Contains(stderr, "token_file") {
		t.Errorf("plan -host pi-1: exit %d\n%s; want refused, naming token_file", code, stderr)
	}
}
