package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// bin is the lucid-rdp binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	if role := os.Getenv(standInEnv); role != "" { // this binary, as a stand-in for xrdp (see standIn)
		standIn(role, os.Args[1:])
	}
	if url := os.Getenv("LUCID_RDP_PROBE_URL"); url != "" { // this binary, run as a prober (see watchHealth)
		healthProber(url)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "lucid-rdp-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "lucid-rdp")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/lucid-rdp").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build lucid-rdp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips (or, under CI=true, fails) a test when a program is missing.
func need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if _, serr := os.Stat("/usr/sbin/" + p); serr == nil {
				continue
			}
			testenv.Missing(t, "%s is not installed", p)
		}
	}
}

// needRoot skips (or fails under CI) when not root: listeners get private
// mount namespaces only as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the process driver's integration tests need root")
	}
}

// host is one test's spec folder and state, on its own block of ports.
type host struct {
	t    *testing.T
	dir  string
	base int
}

// nextBase is the first port of the next test's block. LUCID_RDP_TEST_PORT_BASE
// moves it, so that two test runs on one machine never share ports.
var nextBase = func() int {
	if v, err := strconv.Atoi(os.Getenv("LUCID_RDP_TEST_PORT_BASE")); err == nil && v > 1024 && v < 60000 {
		return v
	}
	return 21000
}()

// newHost makes a spec folder and gives the test 20 ports of its own. On
// cleanup it applies an empty spec, which removes whatever the test left.
func newHost(t *testing.T) *host {
	t.Helper()
	need(t, "xrdp")
	needRoot(t)
	h := &host{t: t, dir: t.TempDir(), base: nextBase}
	nextBase += 20
	t.Cleanup(func() {
		// A test that failed midway may have left a folder, a FIFO or a
		// symlink where the spec goes (the hostile specs do): writing would
		// block on the FIFO or go through the link, and the cleanup must
		// still remove the test's servers, or they outlive it. Anything but
		// a regular file goes before the empty spec is written.
		spec := filepath.Join(h.dir, "lucid-rdp.hcl")
		if fi, err := os.Lstat(spec); err == nil && !fi.Mode().IsRegular() {
			if err := os.RemoveAll(spec); err != nil {
				t.Errorf("cleanup: remove %s: %v", spec, err)
			}
		}
		h.write("")
		if code, out := h.run("apply", "-auto-approve"); code != 0 {
			t.Errorf("cleanup apply: exit %d\n%s", code, out)
		}
	})
	return h
}

// write sets lucid-rdp.hcl to an agent block keeping state in the test's
// folder, followed by body. "PORT+N" in body becomes base+N.
func (h *host) write(body string) {
	h.t.Helper()
	src := fmt.Sprintf("agent {\n  state_dir = %q\n}\n\n%s", filepath.Join(h.dir, "state"), h.expand(body))
	if err := os.WriteFile(filepath.Join(h.dir, "lucid-rdp.hcl"), []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// expand turns "PORT+N" in body into base+N.
func (h *host) expand(body string) string {
	for i := 19; i >= 0; i-- {
		body = strings.ReplaceAll(body, "PORT+"+strconv.Itoa(i), strconv.Itoa(h.base+i))
	}
	return body
}

// run runs lucid-rdp in the spec folder and returns its exit code and output.
func (h *host) run(args ...string) (int, string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = h.dir
	cmd.Env = append(os.Environ(), "LUCID_RDP_CONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		h.t.Fatalf("run %v: %v", args, err)
	}
	return 0, out.String()
}

// mustApply applies the spec and fails the test unless it succeeds.
func (h *host) mustApply() string {
	h.t.Helper()
	code, out := h.run("apply", "-auto-approve", "-no-color")
	if code != 0 {
		h.t.Fatalf("apply: exit %d\n%s", code, out)
	}
	return out
}

// planCode runs plan -detailed-exitcode and returns its exit code and output.
func (h *host) planCode() (int, string) {
	h.t.Helper()
	return h.run("plan", "-detailed-exitcode", "-no-color")
}

// record is the part of a process record the tests look at: both processes,
// the port, and the sesman port and X displays (hostslots.Block of
// DisplayOffset and Settings.MaxSessions) the server was given.
type record struct {
	procfs.Identity
	Sesman        *procfs.Identity `json:"sesman"`
	SesmanPort    int              `json:"sesman_port"`
	DisplayOffset int              `json:"display_offset"`
	Config        struct {
		Port int `json:"port"`
	} `json:"config"`
	Settings struct {
		MaxSessions int  `json:"max_sessions"`
		Drain       bool `json:"drain"`
	} `json:"settings"`
}

// readRecord reads server name's record in stateDir.
func readRecord(stateDir, name string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(stateDir, "servers", name, "record.json"))
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	return r, err
}

func (h *host) record(name string) record {
	h.t.Helper()
	r, err := readRecord(filepath.Join(h.dir, "state"), name)
	if err != nil {
		h.t.Fatalf("record of %s: %v", name, err)
	}
	return r
}

// xorgOf returns the identity of uid's X server (the first Xorg running as
// uid), with Comms set so that Matches holds while it runs; the zero
// Identity when there is none.
func xorgOf(uid int) procfs.Identity {
	for _, p := range procsOf(uid) {
		if p.Comm == "Xorg" {
			return procfs.Identity{PID: p.PID, StartTime: p.StartTime, Comms: []string{"Xorg"}}
		}
	}
	return procfs.Identity{}
}

// up fails the test unless an RDP server answers on port.
func up(t *testing.T, port int) {
	t.Helper()
	if err := rdpprobe.Probe(context.Background(), "127.0.0.1", port); err != nil {
		t.Fatalf("port %d does not answer RDP: %v", port, err)
	}
}

// probeOK reports whether port answers RDP.
func probeOK(port int) bool {
	return rdpprobe.Probe(context.Background(), "127.0.0.1", port) == nil
}

// listening reports whether anything listens on port.
func listening(t *testing.T, port int) bool {
	t.Helper()
	tab, err := socktab.Read()
	if err != nil {
		t.Fatal(err)
	}
	_, ok := tab.ListenerOn("127.0.0.1", port)
	return ok
}

// waitFor polls cond for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logServerFiles logs the named files of every process server of the test's
// state folder, when the test has failed: what sesman and xrdp said.
func (h *host) logServerFiles(names ...string) {
	if !h.t.Failed() {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(h.dir, "state", "servers", "*"))
	for _, d := range dirs {
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
				h.t.Logf("%s/%s:\n%s", filepath.Base(d), n, b)
			}
		}
	}
}
