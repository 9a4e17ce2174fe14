package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func num(v float64) *float64 { return &v }

// step is one evaluation: at t0 plus at, with these samples, the series
// expected afterwards, written "ALERT[/SERIES]=STATE" in Eval's order.
type step struct {
	at      time.Duration
	samples Samples
	want    string
}

func host(metric string, v float64) Samples {
	return Samples{Host: map[string]float64{metric: v}}
}

func servers(metric string, vs map[string]float64) Samples {
	s := Samples{Servers: map[string]map[string]float64{}}
	for name, v := range vs {
		s.Servers[name] = map[string]float64{metric: v}
	}
	return s
}

func show(ss []Series) string {
	var parts []string
	for _, s := range ss {
		id := s.Alert
		if s.Server != "" {
			id += "/" + s.Server
		}
		if s.Range != "" {
			id += "/" + s.Range
		}
		parts = append(parts, id+"="+s.State)
	}
	return strings.Join(parts, " ")
}

func TestEval(t *testing.T) {
	mem := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), For: time.Minute}
	memNow := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90)}
	memKeep := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), For: time.Minute, KeepFiringFor: 2 * time.Minute}
	free := &spec.Alert{Name: "free", Metric: "port_range.free", Below: num(2)}
	full := &spec.Alert{Name: "full", Metric: "server.sessions_ratio", Above: num(0.8), For: 30 * time.Second, Servers: []string{"alice*", "bob"}}
	down := &spec.Alert{Name: "down", Metric: "server.up", Below: num(1), KeepFiringFor: time.Minute}

	cases := []struct {
		name  string
		rules []*spec.Alert
		steps []step
	}{
		{"for: pending, then firing once it held a minute, then resolved once, then gone", []*spec.Alert{mem}, []step{
			{0, host("host.memory_percent", 95), "mem=pending"},
			{30 * time.Second, host("host.memory_percent", 96), "mem=pending"},
			{time.Minute, host("host.memory_percent", 97), "mem=firing"},
			{2 * time.Minute, host("host.memory_percent", 50), "mem=resolved"},
			{3 * time.Minute, host("host.memory_percent", 50), ""},
		}},
		{"pending that clears before for is dropped, and starts over", []*spec.Alert{mem}, []step{
			{0, host("host.memory_percent", 95), "mem=pending"},
			{50 * time.Second, host("host.memory_percent", 80), ""},
			{55 * time.Second, host("host.memory_percent", 95), "mem=pending"},
			{70 * time.Second, host("host.memory_percent", 95), "mem=pending"},
			{115 * time.Second, host("host.memory_percent", 95), "mem=firing"},
		}},
		{"no for: fires at once; the threshold itself is not above", []*spec.Alert{memNow}, []step{
			{0, host("host.memory_percent", 90), ""},
			{time.Second, host("host.memory_percent", 90.5), "mem=firing"},
		}},
		{"keep_firing_for: firing two minutes from the first evaluation it did not hold, counted again after a flap", []*spec.Alert{memKeep}, []step{
			{0, host("host.memory_percent", 95), "mem=pending"},
			{time.Minute, host("host.memory_percent", 95), "mem=firing"},
			{90 * time.Second, host("host.memory_percent", 10), "mem=firing"},
			{2 * time.Minute, host("host.memory_percent", 95), "mem=firing"},
			{3 * time.Minute, host("host.memory_percent", 10), "mem=firing"},
			{4 * time.Minute, host("host.memory_percent", 10), "mem=firing"},
			{4*time.Minute + 59*time.Second, host("host.memory_percent", 10), "mem=firing"},
			{5 * time.Minute, host("host.memory_percent", 10), "mem=resolved"},
		}},
		{"below, one series per range", []*spec.Alert{free}, []step{
			{0, Samples{Ranges: map[string]float64{"desks": 1, "kiosks": 5}}, "free/desks=firing"},
			{time.Second, Samples{Ranges: map[string]float64{"desks": 0, "kiosks": 1}}, "free/desks=firing free/kiosks=firing"},
			{2 * time.Second, Samples{Ranges: map[string]float64{"desks": 3, "kiosks": 1}}, "free/desks=resolved free/kiosks=firing"},
		}},
		{"globs choose the servers; the others never get a series", []*spec.Alert{full}, []step{
			{0, servers("server.sessions_ratio", map[string]float64{"alice-1": 1, "alice-2": 0.5, "bob": 0.9, "bobby": 1, "carol": 1}),
				"full/alice-1=pending full/bob=pending"},
			{30 * time.Second, servers("server.sessions_ratio", map[string]float64{"alice-1": 1, "alice-2": 1, "bob": 0.9, "bobby": 1, "carol": 1}),
				"full/alice-1=firing full/alice-2=pending full/bob=firing"},
		}},
		{"a server that disappears mid-alert resolves (after keep_firing_for); one that appears starts its own series", []*spec.Alert{down}, []step{
			{0, servers("server.up", map[string]float64{"a": 0, "b": 1}), "down/a=firing"},
			{10 * time.Second, servers("server.up", map[string]float64{"b": 1}), "down/a=firing"},
			{time.Minute, servers("server.up", map[string]float64{"b": 1}), "down/a=firing"},
			{70 * time.Second, servers("server.up", map[string]float64{"b": 1, "c": 0}), "down/a=resolved down/c=firing"},
			{2 * time.Minute, servers("server.up", map[string]float64{"a": 0, "b": 1, "c": 0}), "down/a=firing down/c=firing"},
		}},
		{"a metric with no sample makes no series, not a series of 0 (which these below rules would fire on)", []*spec.Alert{
			{Name: "idle", Metric: "host.load1", Below: num(1)},
			{Name: "down", Metric: "server.up", Below: num(1)},
			free,
		}, []step{
			{0, Samples{Host: map[string]float64{}, Servers: map[string]map[string]float64{"a": {"server.sessions": 2}}}, ""},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var prev []Series
			for i, st := range c.steps {
				now := t0.Add(st.at)
				prev = Eval(c.rules, st.samples, prev, now)
				if got := show(prev); got != st.want {
					t.Fatalf("step %d (+%s): %q; want %q", i, st.at, got, st.want)
				}
			}
		})
	}
}

// The times a series carries: when it became active, fired, stopped holding
// and resolved; and the value that last met the condition.
func TestEvalTimes(t *testing.T) {
	r := &spec.Alert{Name: "cpu", Metric: "server.cpu_percent", Above: num(80), For: time.Minute, KeepFiringFor: 30 * time.Second}
	s := func(v float64) Samples { return servers("server.cpu_percent", map[string]float64{"x": v}) }
	var prev []Series
	prev = Eval([]*spec.Alert{r}, s(85), prev, t0)
	prev = Eval([]*spec.Alert{r}, s(99), prev, t0.Add(time.Minute))
	prev = Eval([]*spec.Alert{r}, s(20), prev, t0.Add(80*time.Second))
	prev = Eval([]*spec.Alert{r}, s(30), prev, t0.Add(100*time.Second))
	got := prev[0]
	want := Series{Alert: "cpu", Server: "x", State: Firing, Value: 99, Threshold: 80, Op: "above",
		ActiveAt: t0, FiredAt: t0.Add(time.Minute), KeepFiringSince: t0.Add(80 * time.Second)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kept firing:\n got %+v\nwant %+v", got, want)
	}
	prev = Eval([]*spec.Alert{r}, s(20), prev, t0.Add(110*time.Second))
	want.State, want.ResolvedAt = Resolved, t0.Add(110*time.Second)
	if fmt.Sprint(prev[0]) != fmt.Sprint(want) {
		t.Fatalf("resolved:\n got %+v\nwant %+v", prev[0], want)
	}
}

// A rule taken out of the spec takes its series with it.
func TestEvalRuleRemoved(t *testing.T) {
	r := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90)}
	prev := Eval([]*spec.Alert{r}, host("host.memory_percent", 95), nil, t0)
	if len(prev) != 1 {
		t.Fatalf("%v", show(prev))
	}
	if got := Eval(nil, host("host.memory_percent", 95), prev, t0.Add(time.Second)); len(got) != 0 {
		t.Fatalf("series of a removed rule: %s", show(got))
	}
}
