// Package alerts evaluates the spec's alert rules against the samples of a
// pass, the way Prometheus evaluates alerting rules: a pure function of the
// rules, the samples, the previous state and the time, so that it can be
// tested with explicit times and replayed.
//
// Each rule watches one metric. A host metric is one series; a server.*
// metric is one series per server whose name matches the rule's globs (every
// server when it has none); port_range.free is one series per range. For each
// series:
//
//   - while the condition (value above or below the threshold) holds, the
//     series is pending, and firing once it has held for `for` (at once when
//     `for` is 0);
//   - when the condition stops holding, or the series has no sample (its
//     server is gone), a pending series is dropped, and a firing one keeps
//     firing for keep_firing_for from the first evaluation that found the
//     condition not holding (as Prometheus counts it), then resolves;
//   - a resolved series is reported once, with when it resolved, so that
//     notifiers can say so; then it is dropped.
package alerts

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// States of a series.
const (
	Pending  = "pending"
	Firing   = "firing"
	Resolved = "resolved"
)

// Samples are the values of one pass, by metric name as the spec names them
// (spec.Metrics).
type Samples struct {
	// Host holds the host.* metrics.
	Host map[string]float64
	// Servers holds the server.* metrics by server name.
	Servers map[string]map[string]float64
	// Ranges holds port_range.free by range name.
	Ranges map[string]float64
}

// Series is the state of one alert for one series: the host, a server or a
// port range.
type Series struct {
	// Alert is the rule's name.
	Alert string `json:"alert"`
	// Server or Range names the series of a server.* or port_range.* rule.
	Server string `json:"server,omitempty"`
	Range  string `json:"range,omitempty"`
	// State is Pending, Firing or Resolved.
	State string `json:"state"`
	// Value is the last sample that met the condition; Threshold the rule's,
	// and Op "above" or "below".
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Op        string  `json:"op"`
	// ActiveAt is when the condition started holding (pending since).
	ActiveAt time.Time `json:"active_at"`
	// FiredAt is when the series started firing; zero while pending.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// KeepFiringSince is when a firing series first found its condition not
	// holding; zero while it holds. keep_firing_for counts from it.
	KeepFiringSince time.Time `json:"keep_firing_since,omitzero"`
	// ResolvedAt is when a firing series stopped firing.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// key identifies a series across passes.
type key struct{ alert, server, rng string }

func (s Series) key() key { return key{s.Alert, s.Server, s.Range} }

// Eval evaluates rules against samples at now, given the series of the last
// evaluation (prev), and returns every series that is pending, firing, or
// resolved at this evaluation, sorted by alert, then server or range. Series
// of a rule no longer in rules are dropped without a resolution: the rule is
// gone, and so is what it said.
func Eval(rules []*spec.Alert, samples Samples, prev []Series, now time.Time) []Series {
	before := make(map[key]Series, len(prev))
	for _, s := range prev {
		if s.State != Resolved {
			before[s.key()] = s
		}
	}
	var out []Series
	for _, r := range rules {
		threshold, op := thresholdOf(r)
		seen := map[key]bool{}
		for _, v := range seriesOf(r, samples) {
			k := key{r.Name, v.server, v.rng}
			seen[k] = true
			s, had := before[k]
			if !had {
				s = Series{Alert: r.Name, Server: v.server, Range: v.rng}
			}
			s.Threshold, s.Op = threshold, op
			if holds(op, v.value, threshold) {
				if !had {
					s.ActiveAt = now
					s.State = Pending
				}
				s.Value, s.KeepFiringSince = v.value, time.Time{}
				if s.State == Pending && now.Sub(s.ActiveAt) >= r.For {
					s.State, s.FiredAt = Firing, now
				}
				out = append(out, s)
				continue
			}
			if s, ok := cleared(r, s, had, now); ok {
				out = append(out, s)
			}
		}
		// Series with no sample this time: their condition does not hold.
		for k, s := range before {
			if k.alert != r.Name || seen[k] {
				continue
			}
			if s, ok := cleared(r, s, true, now); ok {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Alert != b.Alert {
			return a.Alert < b.Alert
		}
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		return a.Range < b.Range
	})
	return out
}

// cleared is what becomes of series s of rule r when its condition does not
// hold at now: a firing one keeps firing for keep_firing_for from the first
// such evaluation, then resolves; anything else is dropped (false).
func cleared(r *spec.Alert, s Series, had bool, now time.Time) (Series, bool) {
	if !had || s.State != Firing {
		return Series{}, false
	}
	if s.KeepFiringSince.IsZero() {
		s.KeepFiringSince = now
	}
	if r.KeepFiringFor > 0 && now.Sub(s.KeepFiringSince) < r.KeepFiringFor {
		return s, true
	}
	s.State, s.ResolvedAt = Resolved, now
	return s, true
}

func thresholdOf(r *spec.Alert) (float64, string) {
	if r.Below != nil {
		return *r.Below, "below"
	}
	if r.Above != nil {
		return *r.Above, "above"
	}
	return 0, "above"
}

func holds(op string, v, threshold float64) bool {
	if op == "below" {
		return v < threshold
	}
	return v > threshold
}

type sample struct {
	server, rng string
	value       float64
}

// seriesOf returns the samples rule r watches.
func seriesOf(r *spec.Alert, samples Samples) []sample {
	var out []sample
	switch {
	case r.Metric == "port_range.free":
		for name, v := range samples.Ranges {
			out = append(out, sample{rng: name, value: v})
		}
	case strings.HasPrefix(r.Metric, "server."):
		for name, m := range samples.Servers {
			v, ok := m[r.Metric]
			if ok && r.Watches(name) {
				out = append(out, sample{server: name, value: v})
			}
		}
	default:
		if v, ok := samples.Host[r.Metric]; ok {
			out = append(out, sample{value: v})
		}
	}
	return out
}

// Summary says what series se of rule r saw, for people: "server.sessions of
// desk-1 is 5, above 4".
func Summary(r *spec.Alert, se Series) string {
	of := ""
	switch {
	case se.Server != "":
		of = " of " + se.Server
	case se.Range != "":
		of = " of " + se.Range
	}
	return fmt.Sprintf("%s%s is %s, %s %s", r.Metric, of, FormatValue(se.Value), se.Op, FormatValue(se.Threshold))
}

// FormatValue shows a sample without float noise: 93.1, 5, 0.75.
func FormatValue(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// NextChange returns when an evaluation is next due by the clock alone, after
// now (zero: none): a pending series reaching its `for`, a firing one's
// keep_firing_for running out, or a hold of m (a drain, a reject_new)
// reaching the end of its cooldown. A hold past its cooldown lasts while its
// alert fires, which the alert's own evaluation times.
func NextChange(s *spec.Spec, series []Series, m Memory, now time.Time) time.Time {
	rules := byName(s.Alerts)
	var at time.Time
	soon := func(t time.Time) {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	for _, se := range series {
		r := rules[se.Alert]
		switch {
		case r == nil:
		case se.State == Pending:
			soon(se.ActiveAt.Add(r.For))
		case se.State == Firing && !se.KeepFiringSince.IsZero():
			soon(se.KeepFiringSince.Add(r.KeepFiringFor))
		}
	}
	for k, h := range m.Holds {
		if r := rules[h.Alert]; r != nil {
			soon(m.Last[k].Add(r.Cooldown))
		}
	}
	return at
}
