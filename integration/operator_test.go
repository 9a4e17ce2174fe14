package integration

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOperatorViews: what an operator looks at, against a live agent with a
// process server, a logged-in user, a port range, an alert and a notify block:
//
//   - every lucid_rdp_* metric that the Prometheus rules and the Grafana
//     dashboard in examples/ name is in the agent's /metrics;
//   - the status page at / loaded in headless Chromium shows the servers and
//     the session's user, after its script has refreshed it in place.
func TestOperatorViews(t *testing.T) {
	h, _ := desktopHost(t, "lucid-it-olga", "Olga-pw-6")
	need(t, "chromium")
	scr := desktopScreen(t)
	api, port := h.base+19, h.base+1
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf(`port_range "desks" {
  address = "127.0.0.1"
  from    = %d
  to      = %d
}

server "olga-desk" {
  port = %d
}

server "spare" {
  port_range = "desks"
}

alert "crowded" {
  metric = "server.sessions"
  above  = 50
  for    = "1m"
}

notify "ops" {
  type = "webhook"
  url  = "http://127.0.0.1:9/hook"
}
`, h.base+2, h.base+5, port))
	a := h.startAgent(api)
	up(t, port)
	scr.login(t, port, "lucid-it-olga", "Olga-pw-6")
	waitFor(t, 30*time.Second, "the agent to list olga's session", func() bool {
		_, body := a.get(t, "/v1/sessions", "")
		return strings.Contains(body, `"user": "lucid-it-olga"`)
	})

	t.Run("metrics the examples name", func(t *testing.T) {
		_, body := a.get(t, "/metrics", "")
		exported := map[string]bool{}
		for _, line := range strings.Split(body, "\n") {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				exported[strings.Fields(name)[0]] = true
			}
		}
		files, _ := filepath.Glob("../examples/prometheus/*.yml")
		dash, _ := filepath.Glob("../examples/grafana/*.json")
		files = append(files, dash...)
		if len(files) < 2 || len(dash) == 0 {
			t.Fatalf("examples: found %v; want the Prometheus rules and a Grafana dashboard", files)
		}
		word := regexp.MustCompile(`lucid_rdp_[a-z0-9_]+`)
		named := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range slices.Compact(slices.Sorted(slices.Values(word.FindAllString(string(b), -1)))) {
				named++
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if s, ok := strings.CutSuffix(m, suffix); ok && exported[s] {
						base = s
					}
				}
				if !exported[base] {
					t.Errorf("%s names %s, which the agent does not export", filepath.Base(f), m)
				}
			}
		}
		if named < 10 {
			t.Errorf("the examples name %d lucid_rdp_* metrics; a dashboard and rules name more", named)
		}
	})

	t.Run("status page in chromium", func(t *testing.T) {
		dir := t.TempDir()
		chromium := func(args ...string) string {
			t.Helper()
			argv := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
				"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1280,900",
				// Timers run on virtual time: the 2 s refresh happens at
				// once, and the page is read after its fetches have answered.
				"--virtual-time-budget=5000"}, args...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "chromium", append(argv, a.url+"/")...)
			cmd.WaitDelay = 5 * time.Second // its helpers may hold the pipes open
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium %v: %v (context: %v)\n%s", args, err, ctx.Err(), stderr.String())
			}
			return string(out)
		}
		dom := chromium("--dump-dom")
		for _, want := range []string{`data-server="olga-desk"`, `data-server="spare"`, `data-user="lucid-it-olga"`, `id="alerts"`, `crowded`, `data-refreshed-at="`} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page after a refresh has no %s", want)
			}
		}
		// All of the above is in the first paint too; data-refreshes counts
		// the refreshes the page's script has rendered, so it is 0 unless
		// the script ran (the CSP let it) and fetched v1/status.
		if m := regexp.MustCompile(`data-refreshes="([0-9]+)"`).FindStringSubmatch(dom); m == nil {
			t.Errorf("the page has no data-refreshes")
		} else if n, _ := strconv.Atoi(m[1]); n < 1 {
			t.Errorf("the page's script refreshed it %d times; want at least 1", n)
		}
		if t.Failed() {
			t.Logf("page:\n%s", dom)
		}
		// Into a fresh folder, so that a Chromium that exits 0 without
		// writing cannot pass on an earlier run's picture.
		shot := filepath.Join(dir, "status-page.png")
		chromium("--screenshot=" + shot)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("chromium wrote no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
			t.Errorf("screenshot is %v", b)
		}
		savePNG(t, img, "status-page")
	})
}
