package agent

import (
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// TestAlertStatuses: an alert's state is the most pressing of its series,
// since the earliest of those; resolved series are not shown.
func TestAlertStatuses(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s := &spec.Spec{Alerts: []*spec.Alert{{Name: "b"}, {Name: "a"}, {Name: "c"}}}
	series := []alerts.Series{
		{Alert: "a", Server: "x", State: alerts.Pending, ActiveAt: t0},
		{Alert: "a", Server: "y", State: alerts.Firing, ActiveAt: t0, FiredAt: t0.Add(2 * time.Minute)},
		{Alert: "a", Server: "z", State: alerts.Firing, ActiveAt: t0, FiredAt: t0.Add(time.Minute)},
		{Alert: "b", State: alerts.Resolved, ActiveAt: t0, FiredAt: t0, ResolvedAt: t0.Add(time.Hour)},
		{Alert: "c", Range: "r", State: alerts.Pending, ActiveAt: t0.Add(time.Second)},
	}
	got := alertStatuses(s, series)
	want := []struct {
		name, state string
		since       time.Time
		series      int
	}{
		{"a", "firing", t0.Add(time.Minute), 3},
		{"b", "inactive", time.Time{}, 0},
		{"c", "pending", t0.Add(time.Second), 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d alerts", len(got))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.State != w.state || !g.Since.Equal(w.since) || len(g.Series) != w.series {
			t.Errorf("%d: got %s %s since %s with %d series; want %s %s since %s with %d", i, g.Name, g.State, g.Since, len(g.Series), w.name, w.state, w.since, w.series)
		}
	}
}

// TestRemovedRules: a rule removed while its series fire has them sent
// resolved, with the labels they fired with; pending ones and kept rules
// send nothing.
func TestRemovedRules(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	st := reconciler.AlertState{
		Series: []alerts.Series{
			{Alert: "gone", Server: "a", State: alerts.Firing, FiredAt: t0, Value: 5, Threshold: 4, Op: "above"},
			{Alert: "gone", Server: "b", State: alerts.Pending},
			{Alert: "kept", State: alerts.Firing, FiredAt: t0},
		},
		Rules: map[string]reconciler.RuleLabels{"gone": {Metric: "server.sessions", Action: "notify", Severity: "page"}, "kept": {Metric: "host.load1"}},
	}
	s := &spec.Spec{Alerts: []*spec.Alert{{Name: "kept"}}}
	got := removedRules(st, s, t0.Add(time.Minute))
	if len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	g := got[0]
	if g.Name != "gone" || g.Server != "a" || g.State != alerts.Resolved || !g.EndsAt.Equal(t0.Add(time.Minute)) ||
		g.Metric != "server.sessions" || g.Severity != "page" || !g.StartsAt.Equal(t0) {
		t.Errorf("got %+v", g)
	}
}
