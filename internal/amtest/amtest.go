// Package amtest starts a real Alertmanager (Debian's prometheus-alertmanager)
// for tests, and reads back what it received. Under CI=true a missing
// Alertmanager fails the test; elsewhere it skips it.
package amtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// Start starts a real Alertmanager on a free loopback port, with one route
// to a receiver with no integrations (it keeps the alerts and sends them
// nowhere), and returns its base URL once it is ready.
func Start(t testing.TB) string {
	t.Helper()
	config := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(config, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return StartWith(t, config)
}

// StartWith starts a real Alertmanager on the configuration file config, on
// a free loopback port, and returns its base URL once it is ready.
func StartWith(t testing.TB, config string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		bin = "/usr/bin/prometheus-alertmanager"
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "prometheus-alertmanager is not installed: %v", err)
	}
	if config, err = filepath.Abs(config); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logPath := filepath.Join(dir, "alertmanager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("alertmanager log:\n%s", out)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			out, _ := os.ReadFile(logPath)
			t.Fatalf("alertmanager exited: %v\n%s", err, out)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready at %s within 15s (last error %v)", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alert is the part of Alertmanager's GET /api/v2/alerts answer
// the tests read.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// List returns the alerts Alertmanager at base lists for query (such as
// "?filter=...").
func List(t testing.TB, base, query string) []Alert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/v2/alerts%s: %s: %s", query, resp.Status, b)
	}
	var out []Alert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ReceivedResolved reads Alertmanager's count of alerts it received through
// API v2 already resolved (endsAt set and past).
func ReceivedResolved(t testing.TB, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "alertmanager_alerts_received_total{") ||
			!strings.Contains(line, `status="resolved"`) || !strings.Contains(line, `version="v2"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	t.Fatal("alertmanager_alerts_received_total{status=\"resolved\",version=\"v2\"} not in /metrics")
	return 0
}
