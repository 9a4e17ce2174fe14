package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/internal/amtest"
)

// deskCPU is a firing server-scoped alert.
func deskCPU(startsAt time.Time) Alert {
	return Alert{
		Name: "desk_cpu", Server: "desk-1", Metric: "server.cpu_percent",
		Op: "above", Value: 93.1, Threshold: 90, Action: "evict_idle", Severity: "page",
		State: Firing, StartsAt: startsAt,
	}
}

// run runs n until the test ends, and waits for Run to return.
func run(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		n.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// eventually polls cond until it holds or timeout passes; cond says what it
// saw last, for the failure message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last saw: %s", what, timeout, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAlertmanager(t *testing.T) {
	base := amtest.Start(t)
	var sent, failed atomic.Int32
	n := New(Config{
		Name: "am", Type: TypeAlertmanager, URL: base + "/", Host: "rdp-1",
		ResendEvery: time.Minute, Timeout: 5 * time.Second,
		Sent: func(name string, ok bool) {
			if name != "am" || !ok {
				failed.Add(1)
				return
			}
			sent.Add(1)
		},
	})
	started := time.Now().Add(-30 * time.Second).Truncate(time.Millisecond)
	a := deskCPU(started)
	n.Update([]Alert{a})
	before := time.Now()
	run(t, n)

	filter := "?filter=" + url.QueryEscape(`alertname="desk_cpu"`)
	var got amtest.Alert
	eventually(t, 5*time.Second, "firing alert listed by Alertmanager", func() (bool, string) {
		list := amtest.List(t, base, filter)
		if len(list) != 1 {
			return false, fmt.Sprintf("%d alerts", len(list))
		}
		got = list[0]
		return true, ""
	})
	wantLabels := map[string]string{
		"alertname": "desk_cpu", "host": "rdp-1", "server": "desk-1",
		"metric": "server.cpu_percent", "severity": "page",
	}
	if !reflect.DeepEqual(got.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", got.Labels, wantLabels)
	}
	if want := "server.cpu_percent on server desk-1 is 93.1, above 90 (action evict_idle)"; got.Annotations["summary"] != want {
		t.Errorf("summary = %q, want %q", got.Annotations["summary"], want)
	}
	if got.Status.State != "active" {
		t.Errorf("state = %q, want active", got.Status.State)
	}
	if !got.StartsAt.Equal(started) {
		t.Errorf("startsAt = %s, want %s", got.StartsAt, started)
	}
	// endsAt = send time + 4*ResendEvery.
	if lo, hi := before.Add(4*time.Minute-time.Second), time.Now().Add(4*time.Minute+time.Second); got.EndsAt.Before(lo) || got.EndsAt.After(hi) {
		t.Errorf("endsAt = %s, want between %s and %s", got.EndsAt, lo, hi)
	}

	// Resolve it. Alertmanager's API v2 lists no alert whose endsAt has
	// passed, with any filter; it counts it as received resolved.
	if c := amtest.ReceivedResolved(t, base); c != 0 {
		t.Fatalf("alerts received resolved before resolving = %v, want 0", c)
	}
	a.State, a.EndsAt = Resolved, time.Now()
	n.Update([]Alert{a})
	eventually(t, 5*time.Second, "Alertmanager received the alert resolved", func() (bool, string) {
		c := amtest.ReceivedResolved(t, base)
		return c == 1, fmt.Sprintf("alertmanager_alerts_received_total{status=\"resolved\"} = %v", c)
	})
	for _, q := range []string{filter, filter + "&active=false&silenced=true&inhibited=true&unprocessed=true", ""} {
		if list := amtest.List(t, base, q); len(list) != 0 {
			t.Errorf("GET /api/v2/alerts%s after resolving: %+v, want none", q, list)
		}
	}
	if sent.Load() != 2 || failed.Load() != 0 {
		t.Errorf("Sent reported %d delivered and %d failed, want 2 and 0", sent.Load(), failed.Load())
	}
}

// request is one request a test receiver saw.
type request struct {
	at          time.Time
	contentType string
	body        []byte
}

// receiver records requests and answers them with status(i), i counting
// from 0. It reports the most requests it had in flight at once.
type receiver struct {
	status func(i int) int
	delay  time.Duration

	mu       sync.Mutex
	reqs     []request
	inFlight int
	maxIn    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	i := len(rc.reqs)
	rc.reqs = append(rc.reqs, request{at: time.Now(), contentType: r.Header.Get("Content-Type"), body: body})
	rc.inFlight++
	rc.maxIn = max(rc.maxIn, rc.inFlight)
	rc.mu.Unlock()
	time.Sleep(rc.delay)
	rc.mu.Lock()
	rc.inFlight--
	rc.mu.Unlock()
	code := http.StatusOK
	if rc.status != nil {
		code = rc.status(i)
	}
	w.WriteHeader(code)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func TestResend(t *testing.T) {
	rc := &receiver{delay: 20 * time.Millisecond}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	const every = 200 * time.Millisecond
	n := New(Config{Name: "am", Type: TypeAlertmanager, URL: srv.URL, Host: "rdp-1", ResendEvery: every})
	a := deskCPU(time.Now())
	n.Update([]Alert{a})
	run(t, n)
	// Many updates while sending; only values change: no extra sends.
	for i := range 50 {
		a.Value = 91 + float64(i)
		n.Update([]Alert{a})
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "firing alert sent 5 times", func() (bool, string) {
		return len(rc.requests()) >= 5, fmt.Sprintf("%d requests", len(rc.requests()))
	})
	reqs := rc.requests()
	for i, r := range reqs {
		if r.contentType != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, r.contentType)
		}
		var body []postableAlert
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("request %d: %v: %s", i, err, r.body)
		}
		if len(body) != 1 || body[0].Labels["alertname"] != "desk_cpu" {
			t.Fatalf("request %d: %s", i, r.body)
		}
		// endsAt is the send time + 4*ResendEvery.
		if d := body[0].EndsAt.Sub(r.at); d < 4*every-400*time.Millisecond || d > 4*every+10*time.Millisecond {
			t.Errorf("request %d: endsAt is %s after it arrived, want about %s", i, d, 4*every)
		}
		if i == 0 {
			continue
		}
		// Resent every ResendEvery (after the last send ended), not at each
		// Update.
		if gap := r.at.Sub(reqs[i-1].at); gap < every || gap > every+3*time.Second {
			t.Errorf("request %d came %s after the one before, want about %s", i, gap, every+rc.delay)
		}
	}
	rc.mu.Lock()
	maxIn := rc.maxIn
	rc.mu.Unlock()
	if maxIn != 1 {
		t.Errorf("%d requests in flight at once, want 1", maxIn)
	}
}

func TestRetryBackoff(t *testing.T) {
	rc := &receiver{status: func(i int) int {
		switch i {
		case 0:
			return http.StatusInternalServerError
		case 1:
			return http.StatusBadRequest
		}
		return http.StatusNoContent
	}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var oks []bool
	// Resends every 100ms: a resolution sent again after its delivery shows.
	n := New(Config{Name: "hook", Type: TypeWebhook, URL: srv.URL + "/hook", Host: "rdp-1", ResendEvery: 100 * time.Millisecond, Sent: func(name string, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		oks = append(oks, ok)
	}})
	// Resolved without EndsAt: it resolved at Update.
	a := deskCPU(time.Now().Add(-time.Minute))
	a.State = Resolved
	before := time.Now()
	n.Update([]Alert{a})
	after := time.Now()
	run(t, n)
	eventually(t, 8*time.Second, "delivered after two failures", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(oks) == 3, fmt.Sprint(oks)
	})
	mu.Lock()
	if want := []bool{false, false, true}; !reflect.DeepEqual(oks, want) {
		t.Errorf("Sent reported %v, want %v", oks, want)
	}
	mu.Unlock()
	reqs := rc.requests()
	// Backoff: 1s, then 2s.
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 950*time.Millisecond || gap > 5*time.Second {
		t.Errorf("first retry after %s, want 1s", gap)
	}
	if gap := reqs[2].at.Sub(reqs[1].at); gap < 1950*time.Millisecond || gap > 6*time.Second {
		t.Errorf("second retry after %s, want 2s", gap)
	}
	for i, r := range reqs {
		var body WebhookBody
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Alerts) != 1 || body.Alerts[0].Status != Resolved || body.Alerts[0].Alert != "desk_cpu" {
			t.Fatalf("request %d: %s", i, r.body)
		}
		if e := body.Alerts[0].EndsAt; e.Before(before) || e.After(after) {
			t.Errorf("request %d: ends_at %s, want the time of Update (%s..%s)", i, e, before, after)
		}
	}
	// Delivered: it is not sent again, by the next Update or by the resends.
	n.Update(nil)
	time.Sleep(350 * time.Millisecond)
	if len(rc.requests()) != 3 {
		t.Errorf("%d requests after delivery, want 3", len(rc.requests()))
	}
}

func TestUpdateDoesNotBlock(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	n := New(Config{Name: "hook", Type: TypeWebhook, URL: srv.URL, Host: "rdp-1"})
	n.Update([]Alert{deskCPU(time.Now())})
	run(t, n)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the receiver")
	}
	// The worker is stuck in a request; Update still returns at once, and
	// keeps the resolved alerts within bounds.
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		for i := range 3000 {
			a := deskCPU(time.Now())
			a.Server = fmt.Sprintf("desk-%d", i)
			r := a
			r.State = Resolved
			n.Update([]Alert{a, r})
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		t.Logf("3000 updates took %s while the receiver hung", d)
	case <-time.After(5 * time.Second):
		t.Fatal("Update blocked while the receiver hung")
	}
	if h := hits.Load(); h != 1 {
		t.Errorf("%d requests, want 1 (the one still hanging)", h)
	}
	n.mu.Lock()
	kept, firing := len(n.resolved), len(n.firing)
	n.mu.Unlock()
	if kept != MaxResolved || firing != 1 {
		t.Errorf("kept %d resolved and %d firing, want %d and 1", kept, firing, MaxResolved)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	failed := make(chan struct{}, 1)
	n := New(Config{Name: "hook", Type: TypeWebhook, URL: srv.URL, Timeout: 200 * time.Millisecond, Sent: func(_ string, ok bool) {
		if !ok {
			select {
			case failed <- struct{}{}:
			default:
			}
		}
	}})
	n.Update([]Alert{deskCPU(time.Now())})
	start := time.Now()
	run(t, n)
	select {
	case <-failed:
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("failed after %s, before the timeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a hanging request did not time out")
	}
}

func TestResolvedBound(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	n := New(Config{Name: "hook", Type: TypeWebhook, URL: srv.URL, Log: hclog.New(&hclog.LoggerOptions{Output: &logs})})
	var alerts []Alert
	for i := range MaxResolved + 5 {
		a := deskCPU(time.Now())
		a.Name, a.State, a.EndsAt = fmt.Sprintf("a%04d", i), Resolved, time.Now()
		alerts = append(alerts, a)
	}
	n.Update(alerts[:500])
	n.Update(alerts[500:])
	if !strings.Contains(logs.String(), "dropped=5") {
		t.Errorf("log does not say 5 were dropped: %q", logs.String())
	}
	run(t, n)
	eventually(t, 5*time.Second, "one request", func() (bool, string) {
		return len(rc.requests()) == 1, fmt.Sprintf("%d requests", len(rc.requests()))
	})
	var body WebhookBody
	if err := json.Unmarshal(rc.requests()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Alerts) != MaxResolved || body.Alerts[0].Alert != "a0005" || body.Alerts[MaxResolved-1].Alert != "a1004" {
		t.Errorf("sent %d alerts, %s..%s; want %d, a0005..a1004", len(body.Alerts), body.Alerts[0].Alert, body.Alerts[len(body.Alerts)-1].Alert, MaxResolved)
	}
}

func TestWebhookBody(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n := New(Config{Name: "ops", Type: TypeWebhook, URL: srv.URL + "/in?token=x", Host: "rdp-1"})
	firingAt := time.Date(2026, 5, 4, 10, 18, 0, 0, time.UTC)
	resolvedAt := time.Date(2026, 5, 4, 10, 21, 30, 500_000_000, time.FixedZone("CEST", 2*3600))
	// Handed over twice (two passes with the same evaluation): sent once.
	updates := []Alert{
		deskCPU(firingAt),
		{
			Name: "ports_low", Range: "desk", Metric: "port_range.free", Op: "below",
			Value: 2, Threshold: 5, Action: "reject_new", State: Resolved,
			StartsAt: firingAt.Add(-time.Hour), EndsAt: resolvedAt,
		},
		{Name: "pending_one", Metric: "host.cpu_percent", State: "pending"},
	}
	n.Update(updates)
	n.Update(updates)
	run(t, n)
	eventually(t, 5*time.Second, "one request", func() (bool, string) {
		return len(rc.requests()) == 1, fmt.Sprintf("%d requests", len(rc.requests()))
	})
	r := rc.requests()[0]
	if r.contentType != "application/json" {
		t.Errorf("Content-Type %q", r.contentType)
	}
	// Decode into plain maps, so that a field with the wrong name or an
	// omitempty that should not be shows.
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version": "1", "notifier": "ops", "host": "rdp-1",
		"alerts": []any{
			map[string]any{
				"status": "resolved", "alert": "ports_low", "range": "desk",
				"metric": "port_range.free", "op": "below", "value": 2.0, "threshold": 5.0,
				"action":    "reject_new",
				"summary":   "port_range.free on range desk is 2, below 5 (action reject_new)",
				"starts_at": "2026-05-04T09:18:00Z", "ends_at": "2026-05-04T08:21:30.5Z",
			},
			map[string]any{
				"status": "firing", "alert": "desk_cpu", "server": "desk-1",
				"metric": "server.cpu_percent", "op": "above", "value": 93.1, "threshold": 90.0,
				"action": "evict_idle", "severity": "page",
				"summary":   "server.cpu_percent on server desk-1 is 93.1, above 90 (action evict_idle)",
				"starts_at": "2026-05-04T10:18:00Z",
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("body:\n%s\nwant:\n%s", g, w)
	}
	// And into the exported types.
	var body WebhookBody
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if !body.Alerts[0].EndsAt.Equal(resolvedAt) || !body.Alerts[1].StartsAt.Equal(firingAt) || !body.Alerts[1].EndsAt.IsZero() {
		t.Errorf("times: %+v", body.Alerts)
	}
}

// TestDocExample checks that the body in the package doc is what the
// package posts.
func TestDocExample(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	start, end := strings.Index(doc, "\n\t{\n"), strings.Index(doc, "\n\t}\n")
	if start < 0 || end < start {
		t.Fatalf("no example body in the package doc:\n%s", doc)
	}
	var inDoc any
	if err := json.Unmarshal([]byte(doc[start:end+3]), &inDoc); err != nil {
		t.Fatalf("package doc example: %v", err)
	}
	t0 := time.Date(2026, 5, 4, 10, 15, 0, 0, time.UTC)
	n := New(Config{Name: "ops", Type: TypeWebhook, Host: "rdp-1"})
	body := n.webhookBody([]Alert{
		{
			Name: "host_memory", Metric: "host.memory_percent", Op: "above", Value: 93.1, Threshold: 90,
			Action: "evict_idle", State: Resolved, StartsAt: t0, EndsAt: t0.Add(6*time.Minute + 30*time.Second),
		},
		{
			Name: "desk_cpu", Server: "desk-1", Metric: "server.cpu_percent", Op: "above", Value: 97.5, Threshold: 90,
			Action: "drain", Severity: "page", State: Firing, StartsAt: t0.Add(3 * time.Minute),
		},
	})
	data, _ := json.Marshal(body)
	var posted any
	if err := json.Unmarshal(data, &posted); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inDoc, posted) {
		out, _ := json.MarshalIndent(posted, "\t", "  ")
		t.Errorf("the package doc's example is not what is posted; posted:\n\t%s", out)
	}
}

// roundTrip is a fake http.RoundTripper.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSchedule follows when requests go out, in fake time: sends on
// changes, resends, backoff and its reset.
func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type sent struct {
			at     time.Time
			alerts []postableAlert
		}
		var (
			mu   sync.Mutex
			reqs []sent
			oks  []bool
			fail bool
		)
		n := New(Config{Name: "am", Type: TypeAlertmanager, URL: "http://am.test", Host: "rdp-1", Sent: func(_ string, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			oks = append(oks, ok)
		}})
		n.client.Transport = roundTrip(func(r *http.Request) (*http.Response, error) {
			var alerts []postableAlert
			if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			reqs = append(reqs, sent{time.Now(), alerts})
			code := http.StatusOK
			if fail {
				code = http.StatusServiceUnavailable
			}
			return &http.Response{StatusCode: code, Status: http.StatusText(code), Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})
		setFail := func(v bool) {
			mu.Lock()
			defer mu.Unlock()
			fail = v
		}
		// count waits for the bubble to settle and returns the number of
		// requests and the last one.
		count := func() (int, sent) {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(reqs) == 0 {
				return 0, sent{}
			}
			return len(reqs), reqs[len(reqs)-1]
		}
		expect := func(what string, want int) sent {
			t.Helper()
			got, last := count()
			if got != want {
				t.Fatalf("%s: %d requests, want %d", what, got, want)
			}
			return last
		}

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go n.Run(ctx)
		t0 := time.Now()
		a := deskCPU(t0)

		n.Update([]Alert{a})
		last := expect("first firing", 1)
		if !last.at.Equal(t0) || !last.alerts[0].EndsAt.Equal(t0.Add(4*time.Minute)) {
			t.Errorf("first send at %s with endsAt %s; want at %s, endsAt %s", last.at, last.alerts[0].EndsAt, t0, t0.Add(4*time.Minute))
		}
		a.Value = 95
		n.Update([]Alert{a})
		expect("new value only", 1)
		time.Sleep(59 * time.Second)
		n.Update([]Alert{a})
		expect("same set again", 1)
		time.Sleep(time.Second)
		last = expect("resend after ResendEvery", 2)
		if !last.at.Equal(t0.Add(time.Minute)) || !strings.Contains(last.alerts[0].Annotations["summary"], "is 95,") {
			t.Errorf("resend at %s with %v", last.at.Sub(t0), last.alerts[0].Annotations)
		}
		b := deskCPU(t0.Add(time.Minute))
		b.Server = "desk-2"
		n.Update([]Alert{a, b})
		last = expect("a new series", 3)
		if len(last.alerts) != 2 {
			t.Errorf("sent %d alerts, want 2", len(last.alerts))
		}
		// A series that goes away and comes back is news.
		n.Update([]Alert{a})
		expect("a series gone", 3)
		n.Update([]Alert{a, b})
		expect("the series back", 4)

		// The receiver fails from the next resend on: retries back off from
		// 1s, doubling up to 1m. An update during the backoff waits for the
		// retry, which carries it.
		setFail(true)
		time.Sleep(time.Minute)
		expect("resend that fails", 5)
		failedAt := time.Now()
		wantGaps := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
		at := failedAt
		r := a
		r.State, r.EndsAt = Resolved, failedAt.Add(2*time.Second)
		for i, g := range wantGaps {
			g *= time.Second
			time.Sleep(g - time.Millisecond)
			expect(fmt.Sprintf("before retry %d", i+1), 5+i)
			if i == 1 {
				n.Update([]Alert{r, b}) // during the backoff
				expect("update during backoff", 5+i)
			}
			time.Sleep(time.Millisecond)
			at = at.Add(g)
			last = expect(fmt.Sprintf("retry %d", i+1), 6+i)
			if !last.at.Equal(at) {
				t.Errorf("retry %d at %s, want %s", i+1, last.at.Sub(failedAt), at.Sub(failedAt))
			}
		}
		if len(last.alerts) != 2 || last.alerts[0].Labels["server"] != "desk-1" || !last.alerts[0].EndsAt.Equal(r.EndsAt) ||
			last.alerts[1].Labels["server"] != "desk-2" {
			t.Errorf("retry carries %+v; want desk-1 resolved, then desk-2 firing", last.alerts)
		}
		// The receiver is back: the next retry delivers, and the backoff
		// starts again from 1s.
		setFail(false)
		time.Sleep(time.Minute)
		last = expect("delivered", 14)
		if len(last.alerts) != 2 {
			t.Errorf("delivery carries %d alerts, want 2", len(last.alerts))
		}
		setFail(true)
		time.Sleep(time.Minute)
		last = expect("next resend, without the delivered resolution", 15)
		if len(last.alerts) != 1 || last.alerts[0].Labels["server"] != "desk-2" {
			t.Errorf("resend carries %+v; want desk-2 only", last.alerts)
		}
		time.Sleep(time.Second)
		expect("retry 1s after the failure", 16)

		mu.Lock()
		defer mu.Unlock()
		want := []bool{true, true, true, true}
		for range 9 {
			want = append(want, false)
		}
		want = append(want, true, false, false)
		if !reflect.DeepEqual(oks, want) {
			t.Errorf("Sent reported %v, want %v", oks, want)
		}
		cancel()
	})
}

// TestLabels checks the Alertmanager labels of each kind of series: only
// what is set.
func TestLabels(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		host  string
		alert Alert
		want  map[string]string
	}{
		{"rdp-1", Alert{Name: "host_memory", Metric: "host.memory_percent", State: Firing},
			map[string]string{"alertname": "host_memory", "host": "rdp-1", "metric": "host.memory_percent"}},
		{"rdp-1", Alert{Name: "ports_low", Range: "desk", Metric: "port_range.free", Severity: "warn", State: Resolved, EndsAt: t0},
			map[string]string{"alertname": "ports_low", "host": "rdp-1", "range": "desk", "metric": "port_range.free", "severity": "warn"}},
		{"", Alert{Name: "desk_cpu", Server: "desk-1", Metric: "server.cpu_percent", State: Firing},
			map[string]string{"alertname": "desk_cpu", "server": "desk-1", "metric": "server.cpu_percent"}},
	}
	for _, tt := range tests {
		n := New(Config{Type: TypeAlertmanager, Host: tt.host})
		got := n.postableAlerts([]Alert{tt.alert}, t0)[0]
		if !reflect.DeepEqual(got.Labels, tt.want) {
			t.Errorf("%s: labels %v, want %v", tt.alert.Name, got.Labels, tt.want)
		}
	}
}
