package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHealth: `lucid-rdp health` exits 0 on a 200, and 1 with a one-line
// reason on any other answer, on no answer in time, and when nothing
// listens; a dial to 127.0.0.1 leaves from 127.0.0.2 (no self-connect).
func TestHealth(t *testing.T) {
	t.Setenv("LUCID_RDP_ADDR", "")
	var mu sync.Mutex
	var from string // the client address of the last request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		from, _, _ = net.SplitHostPort(r.RemoteAddr)
		mu.Unlock()
		switch r.URL.Path {
		case "/ok/health":
			w.Write([]byte("ok\n"))
		case "/broken/health":
			http.Error(w, "the agent is on fire\nand more", http.StatusInternalServerError)
		case "/slow/health":
			// Slower than healthTimeout; done as soon as the client gives
			// up, so that srv.Close does not wait for it.
			select {
			case <-r.Context().Done():
			case <-time.After(600 * time.Millisecond):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	refused := closedPort(t)
	old := healthTimeout
	healthTimeout = 200 * time.Millisecond
	defer func() { healthTimeout = old }()

	for _, tc := range []struct {
		name     string
		args     []string
		env      string // $LUCID_RDP_ADDR
		code     int
		stdout   string
		stderr   string
		fromSelf bool // the request must come from 127.0.0.2
	}{
		{name: "200", args: []string{"-addr", srv.URL + "/ok"}, code: exitOK, stdout: srv.URL + "/ok/health: ok\n", fromSelf: true},
		{name: "trailing slash", args: []string{"-addr", srv.URL + "/ok/"}, code: exitOK, stdout: "/ok/health: ok"},
		{name: "from the environment", env: srv.URL + "/ok", code: exitOK, stdout: "/ok/health: ok"},
		{name: "500", args: []string{"-addr", srv.URL + "/broken"}, code: exitError, stderr: "answered 500 Internal Server Error: the agent is on fire\n"},
		{name: "404", args: []string{"-addr", srv.URL}, code: exitError, stderr: "answered 404 Not Found: 404 page not found\n"},
		{name: "too slow", args: []string{"-addr", srv.URL + "/slow"}, code: exitError, stderr: "no answer within 200ms\n"},
		{name: "nothing listens", args: []string{"-addr", "http://127.0.0.1:" + refused}, code: exitError, stderr: "connection refused: no agent listens there"},
		{name: "bad URL", args: []string{"-addr", "::nope"}, code: exitError, stderr: "lucid-rdp health: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LUCID_RDP_ADDR", tc.env)
			code, stdout, stderr := runCLI(t, append([]string{"health"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d; want %d\nstdout: %q (want %q)\nstderr: %q (want %q)", code, tc.code, stdout, tc.stdout, stderr, tc.stderr)
			}
			if tc.code != exitOK && strings.Count(stderr, "\n") != 1 {
				t.Errorf("the reason is not one line: %q", stderr)
			}
			// The reason goes to stderr alone; an answer of 200 says
			// nothing there.
			if tc.code != exitOK && stdout != "" {
				t.Errorf("stdout: %q; want nothing on a failure", stdout)
			}
			if tc.code == exitOK && stderr != "" {
				t.Errorf("stderr: %q; want nothing on success", stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.fromSelf && from != "127.0.0.2" {
				t.Errorf("the request came from %q; want 127.0.0.2", from)
			}
		})
	}
}

// closedPort returns a loopback port that nothing listens on now.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}
