package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
)

// States of an Alert, as package alerts names them.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// Types of notifier.
const (
	TypeAlertmanager = "alertmanager"
	TypeWebhook      = "webhook"
)

// Defaults and bounds.
const (
	// DefaultResendEvery is how often firing alerts are sent again when
	// Config.ResendEvery is 0.
	DefaultResendEvery = time.Minute
	// DefaultTimeout bounds one request when Config.Timeout is 0.
	DefaultTimeout = 10 * time.Second
	// MaxResolved is the most resolved alerts kept for delivery.
	MaxResolved = 1000
)

// Alert is one alert series as a notifier sends it.
type Alert struct {
	Name      string    // the alert rule's name (label alertname)
	Server    string    // for server.* metrics: the server; else ""
	Range     string    // for port_range.free: the range; else ""
	Metric    string    // e.g. "host.memory_percent"
	Op        string    // "above" or "below"
	Value     float64   // the sample that met the condition
	Threshold float64   // the rule's threshold
	Action    string    // notify, drain, restart, evict_idle, reject_new
	Severity  string    // optional; label severity only when set
	State     string    // "firing" or "resolved"
	StartsAt  time.Time // when it started firing
	EndsAt    time.Time // when it resolved (zero while firing)
}

// Config sets up one notifier (one `notify` block of the spec).
type Config struct {
	Name string // the block's label
	Type string // "alertmanager" or "webhook"
	URL  string // alertmanager: base URL such as http://127.0.0.1:9093 ; webhook: the URL posted to
	Host string // this host's name: label "host"
	// ResendEvery: how often firing alerts are sent again (default 1m). Alertmanager
	// resolves an alert it has not heard of for its resolve_timeout (5m by default),
	// so firing alerts are re-sent well before that, each with endsAt = now + 4*ResendEvery.
	ResendEvery time.Duration
	Timeout     time.Duration // per request, default 10s
	Log         hclog.Logger  // github.com/hashicorp/go-hclog, may be nil
	// Sent is called after each attempt (may be nil): ok tells whether it was delivered.
	Sent func(notifier string, ok bool)
}

// Notifier delivers alerts to one notifier. Update feeds it; Run sends.
type Notifier struct {
	cfg    Config
	log    hclog.Logger
	client *http.Client
	// minBackoff and maxBackoff bound the wait before a retry.
	minBackoff, maxBackoff time.Duration

	// wake says Update has handed over something; it holds at most one token.
	wake chan struct{}

	mu sync.Mutex
	// firing is every series firing as of the last Update.
	firing []Alert
	// resolved are resolved alerts not yet delivered, oldest first.
	resolved []queued
	// seq numbers the resolved alerts as they come.
	seq uint64
}

// queued is a resolved alert waiting for delivery.
type queued struct {
	seq   uint64
	alert Alert
}

// New returns a Notifier for cfg. It sends nothing until Run.
func New(cfg Config) *Notifier {
	if cfg.ResendEvery <= 0 {
		cfg.ResendEvery = DefaultResendEvery
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	log := cfg.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Notifier{
		cfg:        cfg,
		log:        log.Named("notify").With("notifier", cfg.Name, "type", cfg.Type),
		client:     &http.Client{Timeout: cfg.Timeout},
		minBackoff: time.Second,
		maxBackoff: time.Minute,
		wake:       make(chan struct{}, 1),
	}
}

// Update hands over the alerts as of one evaluation: every series firing now, and
// those that resolved at this evaluation. It never blocks (the agent calls it from its
// reconcile pass): it replaces what the worker has not yet picked up, except that
// resolved alerts not yet delivered are kept until delivered (bounded: at most 1000,
// oldest dropped first, logged).
//
// Alerts in other states (pending) are ignored. A resolved alert without
// EndsAt is taken to have resolved now.
func (n *Notifier) Update(alerts []Alert) {
	var firing []Alert
	now := time.Now()
	n.mu.Lock()
	for _, a := range alerts {
		switch a.State {
		case Firing:
			firing = append(firing, a)
		case Resolved:
			if a.EndsAt.IsZero() {
				a.EndsAt = now
			}
			n.queueResolved(a)
		}
	}
	n.firing = firing
	dropped := 0
	if len(n.resolved) > MaxResolved {
		dropped = len(n.resolved) - MaxResolved
		n.resolved = append([]queued(nil), n.resolved[dropped:]...)
	}
	n.mu.Unlock()
	if dropped > 0 {
		n.log.Warn("resolved alerts dropped before delivery", "dropped", dropped, "kept", MaxResolved)
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// queueResolved queues a for delivery, in place of the same resolution if
// it is already queued. n.mu is held.
func (n *Notifier) queueResolved(a Alert) {
	n.seq++
	for i, q := range n.resolved {
		if q.alert.key() == a.key() && q.alert.StartsAt.Equal(a.StartsAt) {
			n.resolved = append(n.resolved[:i], n.resolved[i+1:]...)
			break
		}
	}
	n.resolved = append(n.resolved, queued{seq: n.seq, alert: a})
}

// batch is what one request carries.
type batch struct {
	resolved []Alert
	firing   []Alert
	// lastSeq is the seq of the newest resolved alert in it.
	lastSeq uint64
}

func (b batch) empty() bool { return len(b.resolved) == 0 && len(b.firing) == 0 }

// take returns what is to be sent now.
func (n *Notifier) take() batch {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := batch{firing: n.firing}
	for _, q := range n.resolved {
		b.resolved = append(b.resolved, q.alert)
		b.lastSeq = q.seq
	}
	return b
}

// delivered forgets the resolved alerts up to seq.
func (n *Notifier) delivered(seq uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := 0
	for i < len(n.resolved) && n.resolved[i].seq <= seq {
		i++
	}
	n.resolved = n.resolved[i:]
}

// series identifies one firing of one series: a series that resolves and
// fires again is a new one.
type series struct {
	key
	startsAt int64
}

// key identifies a series.
type key struct{ name, server, rng string }

func (a Alert) key() key { return key{a.Name, a.Server, a.Range} }

func (a Alert) series() series { return series{a.key(), a.StartsAt.UnixNano()} }

// Run sends until ctx ends: at once when the set changes (a new firing series, a
// resolved one, a changed value is NOT a change worth a send), every ResendEvery
// for everything firing, and retries a failed send with backoff (1s doubling to 1m,
// reset on success). It never sends two requests at once.
//
// While a retry is pending, changes wait for it: the retry carries them.
func (n *Notifier) Run(ctx context.Context) {
	// told is the firing series the notifier has been sent, as far as they
	// are still firing.
	told := map[series]bool{}
	var backoff time.Duration // 0 unless the last attempt failed
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var b batch
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
			if backoff > 0 {
				continue
			}
			b = n.take()
			if !n.news(b, told) {
				continue
			}
		case <-timer.C:
			b = n.take()
		}
		if b.empty() {
			clear(told)
			continue
		}
		err := n.send(ctx, b)
		if ctx.Err() != nil {
			return
		}
		if n.cfg.Sent != nil {
			n.cfg.Sent(n.cfg.Name, err == nil)
		}
		if err != nil {
			backoff = min(max(2*backoff, n.minBackoff), n.maxBackoff)
			n.log.Warn("send failed", "error", err, "firing", len(b.firing), "resolved", len(b.resolved), "retry_in", backoff)
			timer.Reset(backoff)
			continue
		}
		n.log.Debug("sent", "firing", len(b.firing), "resolved", len(b.resolved))
		backoff = 0
		n.delivered(b.lastSeq)
		clear(told)
		for _, a := range b.firing {
			told[a.series()] = true
		}
		timer.Reset(n.cfg.ResendEvery)
	}
}

// news reports whether b is worth a send now: a resolved alert, or a firing
// series not in told. It drops from told what is no longer firing, so that a
// series that comes back counts as new.
func (n *Notifier) news(b batch, told map[series]bool) bool {
	now := make(map[series]bool, len(b.firing))
	fresh := len(b.resolved) > 0
	for _, a := range b.firing {
		s := a.series()
		now[s] = true
		if !told[s] {
			fresh = true
		}
	}
	for s := range told {
		if !now[s] {
			delete(told, s)
		}
	}
	return fresh
}

// send makes one request carrying b.
func (n *Notifier) send(ctx context.Context, b batch) error {
	alerts := append(append([]Alert(nil), b.resolved...), b.firing...)
	var (
		url  string
		body any
	)
	switch n.cfg.Type {
	case TypeAlertmanager:
		url = strings.TrimRight(n.cfg.URL, "/") + "/api/v2/alerts"
		body = n.postableAlerts(alerts, time.Now())
	case TypeWebhook:
		url = n.cfg.URL
		body = n.webhookBody(alerts)
	default:
		return fmt.Errorf("notify %s: unknown type %q", n.cfg.Name, n.cfg.Type)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("notify %s: encode: %w", n.cfg.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.cfg.Name, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify %s: post %s: %s: %s", n.cfg.Name, url, resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// summary says what a says, e.g.
// "server.cpu_percent on server desk-1 is 97.5, above 90 (action drain)".
func summary(a Alert) string {
	var s strings.Builder
	s.WriteString(a.Metric)
	switch {
	case a.Server != "":
		s.WriteString(" on server " + a.Server)
	case a.Range != "":
		s.WriteString(" on range " + a.Range)
	}
	fmt.Fprintf(&s, " is %s, %s %s (action %s)", alerts.FormatValue(a.Value), a.Op, alerts.FormatValue(a.Threshold), a.Action)
	return s.String()
}
