package agent

import (
	"testing"
	"time"

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
