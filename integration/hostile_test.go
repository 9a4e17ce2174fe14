package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/hostile"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// healthWatch times GET /health every 20 ms, from a process of its own (this
// test binary, run as healthProber by TestMain): timed from inside the test process,
// the test's own work (reading half-megabyte answers, polling status) showed
// as agent latency.
type healthWatch struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func watchHealth(t *testing.T, url string) *healthWatch {
	w := &healthWatch{cmd: exec.Command(os.Args[0])}
	w.cmd.Env = append(os.Environ(), "LUCID_RDP_PROBE_URL="+url)
	w.cmd.Stderr = os.Stderr
	var err error
	if w.in, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.out = bufio.NewScanner(stdout)
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.in.Close(); _ = w.cmd.Wait() })
	return w
}

// mark returns the worst /health latency since the last mark, and how many
// probes failed, in milliseconds.
func (w *healthWatch) mark(t *testing.T) (worst float64, failures int) {
	t.Helper()
	if _, err := fmt.Fprintln(w.in, "mark"); err != nil {
		t.Fatalf("health prober: %v", err)
	}
	for w.out.Scan() {
		if _, err := fmt.Sscanf(w.out.Text(), "PROBE %f %d", &worst, &failures); err == nil {
			return worst, failures
		}
	}
	t.Fatal("health prober ended")
	return 0, 0
}

// healthProber times GET /health of the agent at url every 20 ms and, at
// each line of stdin, prints the worst latency and the failures since the
// last: what TestMain runs when LUCID_RDP_PROBE_URL is set.
func healthProber(url string) {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var worst time.Duration
	failures := 0
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
			fmt.Printf("PROBE %.1f %d\n", float64(worst.Microseconds())/1000, failures)
			worst, failures = 0, 0
		case <-tick.C:
			start := time.Now()
			resp, err := client.Get(url + "/health")
			worst = max(worst, time.Since(start))
			if err != nil || resp.StatusCode != http.StatusOK {
				failures++
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}
}

// TestAgentHealthyUnderHostileSpecs: while every spec of the hostile corpus is
// POSTed to /v1/plan and then saved as the spec file (and the file is made a
// symlink to /dev/zero, a FIFO, an empty folder), /health answers within 100 ms, each
// is refused with its reason in /v1/status, and the servers keep running on
// the last good spec.
func TestAgentHealthyUnderHostileSpecs(t *testing.T) {
	h := newHost(t)
	cases, err := hostile.Load("../spec/testdata/hostile")
	if err != nil {
		t.Fatal(err)
	}
	api := h.base + 19
	good := h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n", h.base+1)
	h.writeRaw(good)
	a := h.startAgent(api)
	waitFor(t, 10*time.Second, "a to answer", func() bool { return probeOK(h.base + 1) })
	hash := a.status(t)["spec"].(map[string]any)["hash"]
	pid := h.record("a").PID
	specPath := filepath.Join(h.dir, "lucid-rdp.hcl")

	specError := func() string { e, _ := a.status(t)["spec"].(map[string]any)["error"].(string); return e }
	restore := func() {
		h.writeRaw(good)
		waitFor(t, 10*time.Second, "the good spec to be read again", func() bool {
			st := a.status(t)["spec"].(map[string]any)
			return st["error"] == nil || st["error"] == ""
		})
	}
	hw := watchHealth(t, a.url)
	hw.mark(t) // from here on

	// feed POSTs src to /v1/plan and saves it as the spec file (or, with
	// place, puts something else in the file's place), waits until the agent
	// refuses it, restores the good spec, and returns the worst /health
	// latency meanwhile.
	feed := func(name string, src []byte, want string, place func() error) float64 {
		start := time.Now()
		if src != nil {
			resp, err := http.Post(a.url+"/v1/plan", "text/plain", bytes.NewReader(src))
			if err != nil {
				t.Fatalf("%s: POST /v1/plan: %v", name, err)
			}
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge:
				t.Errorf("%s: POST /v1/plan answered %s: %.300s", name, resp.Status, body.String())
			case resp.StatusCode == http.StatusBadRequest && !strings.Contains(body.String(), want):
				t.Errorf("%s: POST /v1/plan does not say %q: %.300s", name, want, body.String())
			case body.Len() > 256<<10:
				t.Errorf("%s: POST /v1/plan answered %d bytes", name, body.Len())
			}
			place = func() error { return os.WriteFile(specPath, src, 0o644) }
		}
		posted := time.Since(start)
		if err := os.Remove(specPath); err != nil {
			t.Fatal(err)
		}
		if err := place(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, name+" to be refused", func() bool {
			e := specError()
			return strings.Contains(e, want)
		})
		refused := time.Since(start) - posted
		if err := os.RemoveAll(specPath); err != nil {
			t.Fatal(err)
		}
		restore()
		worst, failures := hw.mark(t)
		if failures > 0 {
			t.Errorf("%s: /health failed %d times", name, failures)
		}
		t.Logf("%-22s POST %6.1f ms, saved and refused %6.1f ms, worst /health %5.1f ms", name,
			float64(posted.Microseconds())/1000, float64(refused.Microseconds())/1000, worst)
		return worst
	}
	// A stall (work under a lock /health needs) shows every time; a machine
	// busy with other work can delay one answer once. So a case over the
	// bound is fed again, and fails only when it is over the bound again.
	check := func(name string, src []byte, want string, place func() error) {
		if feed(name, src, want, place) <= 100 {
			return
		}
		if again := feed(name+" (again)", src, want, place); again > 100 {
			t.Errorf("%s: /health took %.1f ms at worst, twice over; the bound is 100 ms", name, again)
		}
	}
	for _, c := range cases {
		want := c.Want
		if len(c.Src) > spec.MaxSpecSize {
			want = "larger than" // the file is refused before it is parsed
		}
		check(c.Name, c.Src, want, nil)
	}
	// Files that are no spec at all.
	check("symlink to /dev/zero", nil, "regular file", func() error { return os.Symlink("/dev/zero", specPath) })
	check("FIFO", nil, "regular file", func() error { return syscall.Mkfifo(specPath, 0o644) })
	// A folder is a spec form (its *.hcl files, read as one); an empty one is
	// refused, never read as a spec of no servers.
	check("empty folder", nil, "holds no *.hcl file", func() error { return os.Mkdir(specPath, 0o755) })

	if now := a.status(t)["spec"].(map[string]any)["hash"]; now != hash {
		t.Fatalf("the spec in force changed: %v -> %v", hash, now)
	}
	if h.record("a").PID != pid || !probeOK(h.base+1) {
		t.Fatal("server a was touched while hostile specs were refused")
	}
}
