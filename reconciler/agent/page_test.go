package agent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/fake"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// statusAgent is an agent that has not run, with st as its last pass's
// status, listening on listen.
func statusAgent(listen, tokenFile string, st Status) *Agent {
	return &Agent{
		cfg:      Config{SpecPath: "/etc/lucid-rdp/lucid-rdp.hcl"},
		log:      hclog.NewNullLogger(),
		m:        newMetrics("test"),
		spec:     &spec.Spec{Agent: spec.Agent{Listen: listen, TokenFile: tokenFile}},
		loadedAt: time.Now().Add(-time.Minute),
		ready:    true,
		status:   st,
	}
}

// get answers one request of the agent's handler.
// A request that gets past the checks to an endpoint that waits for the loop
// (none runs here) gives up after a second instead of hanging the test.
func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// inline returns the text of the one element that opens with open.
func inline(t *testing.T, page, open, end string) string {
	t.Helper()
	if strings.Count(page, open) != 1 {
		t.Fatalf("the page has %d %s elements; want 1", strings.Count(page, open), open)
	}
	_, rest, _ := strings.Cut(page, open)
	body, _, _ := strings.Cut(rest, end)
	return body
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// TestPageFirstPaint: an agent with a fake driver makes a pass, then refuses
// an edit; its page is HTML that no cache keeps, whose CSP allows exactly its
// own style and script, and whose first paint already shows the server, its
// session's user, the alert and the refused edit, with stable hooks for a
// browser test.
func TestPageFirstPaint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lucid-rdp.hcl")
	good := `agent {
  state_dir = "` + filepath.Join(dir, "state") + `"
}
server "alice" {
  port = 13500
  sessions { max = 2 }
}
alert "host_memory" {
  metric = "host.memory_percent"
  above  = 0
  for    = "1h"
}
`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	d := fake.New("process")
	d.SessionCounts["alice"] = 1
	a, err := New(Config{SpecPath: path, Drivers: func(*spec.Spec, hclog.Logger) map[string]drivers.Driver {
		return map[string]drivers.Driver{"process": d}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.unlock()
	a.pass(context.Background())
	a.pass(context.Background()) // the first started alice; this one sees her session
	if err := os.WriteFile(path, []byte(good+"server \"bob\" {\n  nonsense = 1\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.reload(false); ok || err == nil {
		t.Fatalf("reload of a broken edit: %v, %v; want refused", ok, err)
	}

	w := get(t, a.Handler(), "GET", "/", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /: %d %s", w.Code, w.Body)
	}
	h := w.Result().Header
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q; want no-store", cc)
	}
	page := w.Body.String()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'none'",
		"style-src " + cspHash(inline(t, page, "<style>", "</style>")) + ";",
		"script-src " + cspHash(inline(t, page, "<script>", "</script>")) + ";",
		"connect-src 'self'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q allows too much", csp)
	}

	for _, want := range []string{
		`<table id="servers">`, `<table id="sessions">`, `<table id="alerts">`,
		`<tr data-server="alice" data-state="up">`,
		`<span class="state k-ok">up</span>`,
		`1 / 2`,
		`data-user="user1"`, `>user1</th>`,
		`<tr data-alert="host_memory" data-state="pending">`,
		`<code id="spec-hash">` + a.Status().Spec.Hash + `</code>`,
		`id="ready" data-ready="true"`,
		`id="refreshed" data-state="ok" data-refreshed-at="`,
		`data-refreshes="0"`, // the script counts its refreshes from here
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !strings.Contains(inline(t, page, "<script>", "</script>"), `"data-refreshes"`) {
		t.Errorf("the script does not count its refreshes in data-refreshes")
	}
	// The refused edit stands out: a banner shown at the top, with the error.
	if !strings.Contains(page, `<div id="spec-error" class="banner" role="alert">`) {
		t.Errorf("the refused edit's banner is hidden or missing")
	}
	if !strings.Contains(inline(t, page, `<pre id="spec-error-text">`, "</pre>"), "nonsense") {
		t.Errorf("the banner does not say what is wrong:\n%s", page)
	}
	if i, j := strings.Index(page, `id="spec-error"`), strings.Index(page, `id="servers"`); i > j {
		t.Errorf("the refused edit's banner comes after the servers")
	}
	// Relative times, the absolute time in a title.
	if !regexp.MustCompile(`<time datetime="[0-9T:.Z-]+" title="[0-9 :-]+ UTC">[0-9]+ (s|min) ago</time>`).MatchString(page) {
		t.Errorf("no relative time with an absolute title on the page")
	}

	// The same agent once the spec is fixed: the banner is hidden.
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reload(false); err != nil {
		t.Fatal(err)
	}
	page = get(t, a.Handler(), "GET", "/", nil).Body.String()
	if !strings.Contains(page, `<div id="spec-error" class="banner" role="alert" hidden>`) {
		t.Errorf("with the spec loaded, the refused edit's banner is not hidden")
	}
}

// TestPageEscapes: names, users and errors are hostile input; none of them
// becomes markup.
func TestPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>`
	st := Status{
		Ready:    true,
		Servers:  []ServerStatus{{Name: evil, Driver: "process", State: "down", LastError: `</pre><img src=x onerror=alert(2)>`, SessionList: []drivers.Session{{Server: evil, User: `"><script>alert(3)</script>`, State: drivers.SessionActive}}}},
		Alerts:   []AlertStatus{{Name: "a", Metric: "host.memory_percent", State: "firing", Series: []alerts.Series{{Alert: "a", Server: evil, State: alerts.Firing}}}},
		Problems: map[string]string{evil: evil},
	}
	a := statusAgent("127.0.0.1:8090", "", st)
	a.specErr = `x.hcl:1,1: <script>alert(4)</script>`
	page := get(t, a.Handler(), "GET", "/", nil).Body.String()
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("the page has %d <script elements; want its own only", n)
	}
	for _, bad := range []string{"<img", "alert(1)</script>", `"><script>alert(3)`, "alert(4)</script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page, `<tr data-server="&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Errorf("the server's row does not carry its escaped name")
	}
	if !strings.Contains(page, `data-user="&#34;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"`) {
		t.Errorf("the session's row does not carry its escaped user")
	}
}

// TestPageNoExternalAssets: the page loads nothing from elsewhere: no
// absolute URL anywhere, no src attribute, links only relative (or data:).
func TestPageNoExternalAssets(t *testing.T) {
	a := statusAgent("127.0.0.1:8090", "", Status{Ready: true})
	page := get(t, a.Handler(), "GET", "/", nil).Body.String()
	for _, bad := range []string{"http://", "https://", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if u := m[1]; strings.HasPrefix(u, "/") || (strings.Contains(u, ":") && u != "data:,") {
			t.Errorf("the page links to %q; want a relative link", u)
		}
	}
	if !strings.Contains(inline(t, page, "<script>", "</script>"), `"v1/status"`) {
		t.Errorf("the script does not fetch the relative v1/status")
	}
}

// TestPageOnlyAtRoot: the page is at / alone; other paths stay unknown.
func TestPageOnlyAtRoot(t *testing.T) {
	h := statusAgent("127.0.0.1:8090", "", Status{}).Handler()
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", http.StatusOK},
		{"HEAD", "/", http.StatusOK},
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/v1/", http.StatusNotFound},
		{"GET", "/v1/nothing", http.StatusNotFound},
		{"GET", "/health/x", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
	} {
		if w := get(t, h, c.method, c.path, nil); w.Code != c.code {
			t.Errorf("%s %s: %d; want %d", c.method, c.path, w.Code, c.code)
		}
	}
}

// TestPageAuth: beyond loopback the page and the API take the token as a
// bearer token or as a Basic password; / challenges browsers with Basic,
// the API keeps its Bearer challenge.
func TestPageAuth(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := statusAgent("0.0.0.0:8090", tokenFile, Status{Ready: true}).Handler()
	basic := func(user, password string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
	}
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	for _, c := range []struct {
		name, method, path string
		header             http.Header
		code               int
		basicChallenge     bool
	}{
		{"page without credentials", "GET", "/", nil, http.StatusUnauthorized, true},
		{"page with the token as Basic password", "GET", "/", basic("anyone", "s3cret-token"), http.StatusOK, false},
		{"page with an empty user name", "GET", "/", basic("", "s3cret-token"), http.StatusOK, false},
		{"page with a wrong password", "GET", "/", basic("anyone", "s3cret-tokeN"), http.StatusUnauthorized, true},
		{"page with the token as user name", "GET", "/", basic("s3cret-token", ""), http.StatusUnauthorized, true},
		{"page with a longer password", "GET", "/", basic("anyone", "s3cret-token2"), http.StatusUnauthorized, true},
		{"page with the bearer token", "GET", "/", bearer("s3cret-token"), http.StatusOK, false},
		{"status with the bearer token", "GET", "/v1/status", bearer("s3cret-token"), http.StatusOK, false},
		{"status with a wrong bearer token", "GET", "/v1/status", bearer("nope"), http.StatusUnauthorized, false},
		{"status without credentials", "GET", "/v1/status", nil, http.StatusUnauthorized, false},
		{"status with the token as Basic password", "GET", "/v1/status", basic("x", "s3cret-token"), http.StatusOK, false},
		{"health without credentials", "GET", "/health", nil, http.StatusOK, false},
		{"unknown path without credentials", "GET", "/nothing", nil, http.StatusUnauthorized, false},
		{"unknown path with credentials", "GET", "/nothing", basic("x", "s3cret-token"), http.StatusNotFound, false},
	} {
		w := get(t, h, c.method, c.path, c.header)
		if w.Code != c.code {
			t.Errorf("%s: %d; want %d", c.name, w.Code, c.code)
			continue
		}
		challenges := w.Result().Header.Values("WWW-Authenticate")
		hasBasic := false
		for _, ch := range challenges {
			if ch == `Basic realm="lucid-rdp", charset="UTF-8"` {
				hasBasic = true
			}
		}
		if hasBasic != c.basicChallenge {
			t.Errorf("%s: challenges %q; want a Basic one: %v", c.name, challenges, c.basicChallenge)
		}
		if w.Code == http.StatusUnauthorized && !strings.Contains(strings.Join(challenges, "\n"), `Bearer realm="lucid-rdp"`) {
			t.Errorf("%s: challenges %q; want the Bearer one", c.name, challenges)
		}
	}
}

// TestCrossOriginPostRefused: a browser that holds the Basic credentials
// cannot be made by another site's page to reload the agent; a client that
// is not a browser (no Sec-Fetch-Site, no Origin) can.
func TestCrossOriginPostRefused(t *testing.T) {
	h := statusAgent("127.0.0.1:8090", "", Status{}).Handler()
	w := get(t, h, "POST", "/v1/reload", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://elsewhere.example"}})
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-site POST /v1/reload: %d; want 403", w.Code)
	}
	w = get(t, h, "POST", "/v1/plan", http.Header{"Origin": {"https://elsewhere.example"}})
	if w.Code != http.StatusForbidden {
		t.Errorf("POST /v1/plan from another origin: %d; want 403", w.Code)
	}
	// The refusal is of other origins alone: a client that is not a browser
	// and the page's own origin get past it, to an endpoint that (with no
	// loop running here) may not answer 200, but never 403, nor 401 on a
	// loopback agent without a token. httptest's requests are for Host
	// example.com.
	for _, c := range []struct {
		name, path string
		header     http.Header
	}{
		{"POST /v1/reload without Origin or Sec-Fetch-Site", "/v1/reload", nil},
		{"POST /v1/plan without Origin or Sec-Fetch-Site", "/v1/plan", nil},
		{"same-origin POST /v1/reload", "/v1/reload", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://example.com"}}},
		{"POST /v1/reload with its own Origin alone", "/v1/reload", http.Header{"Origin": {"http://example.com"}}},
	} {
		if w := get(t, h, "POST", c.path, c.header); w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized {
			t.Errorf("%s: %d %s; want it let through", c.name, w.Code, strings.TrimSpace(w.Body.String()))
		}
	}
}

// TestPageWords: how the page (and its script, which mirrors these) says
// times, sizes and states.
func TestPageWords(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{12 * time.Second, "12 s ago"},
		{-300 * time.Millisecond, "0 s ago"},
		{-12 * time.Second, "in 12 s"},
		{59*time.Minute + 59*time.Second, "59 min ago"},
		{47 * time.Hour, "47 h ago"},
		{72 * time.Hour, "3 d ago"},
	} {
		if got := ago(c.d); got != c.want {
			t.Errorf("ago(%s) = %q; want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		b    uint64
		want string
	}{{0, "—"}, {512, "512 B"}, {1536, "1.5 KiB"}, {300 << 20, "300.0 MiB"}, {5 << 30, "5.0 GiB"}} {
		if got := sizeText(c.b); got != c.want {
			t.Errorf("sizeText(%d) = %q; want %q", c.b, got, c.want)
		}
	}
	for state, kind := range map[string]string{"up": "ok", "down": "bad", "backoff": "bad", "draining": "warn", "pending": "warn", "firing": "bad", "inactive": "muted", "odd": "none"} {
		if got := stateKind(state); got != kind {
			t.Errorf("stateKind(%q) = %q; want %q", state, got, kind)
		}
	}
}
