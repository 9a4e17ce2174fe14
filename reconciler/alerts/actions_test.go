package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

func specWith(alert *spec.Alert, names ...string) *spec.Spec {
	s := &spec.Spec{Alerts: []*spec.Alert{alert}}
	for _, n := range names {
		srv := &spec.Server{Name: n}
		srv.Sessions.Max = 4
		s.Servers = append(s.Servers, srv)
	}
	return s
}

func showDirectives(ds []Directive) string {
	var parts []string
	for _, d := range ds {
		p := d.Action + ":" + d.Server
		if d.Evict > 0 {
			p += "x" + string(rune('0'+d.Evict))
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// TestDecide walks each action through evaluations with explicit times: the
// servers it names and only those, its cooldown, and what a flapping
// condition does.
func TestDecide(t *testing.T) {
	restart := &spec.Alert{Name: "mem", Metric: "server.memory_bytes", Above: num(100), Action: ActionRestart, Cooldown: 10 * time.Minute, Servers: []string{"alice*"}}
	drain := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), Action: ActionDrain, Cooldown: time.Minute, Servers: []string{"alice*"}}
	evict := &spec.Alert{Name: "full", Metric: "server.sessions", Above: num(2), Action: ActionEvictIdle, Cooldown: 30 * time.Second}
	ratio := &spec.Alert{Name: "ratio", Metric: "server.sessions_ratio", Above: num(0.5), Action: ActionEvictIdle, Cooldown: 30 * time.Second}

	firing := func(alert, server string, v float64) []Series {
		return []Series{{Alert: alert, Server: server, State: Firing, Value: v, Op: "above"}}
	}
	hostFiring := []Series{{Alert: "mem", State: Firing, Value: 93, Op: "above", Threshold: 90}}

	type step struct {
		at     time.Duration
		series []Series
		done   string // a server restarted before this evaluation
		want   string
	}
	cases := []struct {
		name  string
		spec  *spec.Spec
		steps []step
	}{
		{"restart asked once, kept until done, not again within cooldown of when it was done though it flaps", specWith(restart, "alice-1", "bob"), []step{
			{0, firing("mem", "alice-1", 150), "", "restart:alice-1"},
			{10 * time.Second, firing("mem", "alice-1", 150), "", "restart:alice-1"}, // still asked: not done yet
			{20 * time.Second, nil, "alice-1", ""},                                   // done; resolved
			{30 * time.Second, firing("mem", "alice-1", 150), "", ""},                // fires again: cooldown
			{40 * time.Second, nil, "", ""},
			{50 * time.Second, firing("mem", "alice-1", 150), "", ""},
			{10*time.Minute + 10*time.Second, firing("mem", "alice-1", 150), "", ""}, // 10m from the request, not from the restart
			{10*time.Minute + 20*time.Second, firing("mem", "alice-1", 150), "", "restart:alice-1"},
		}},
		{"restart never of a server the globs do not name", specWith(restart, "alice-1", "bob"), []step{
			{0, firing("mem", "bob", 150), "", ""},
		}},
		{"restart of a server the spec no longer has is dropped", specWith(restart, "bob"), []step{
			{0, firing("mem", "alice-1", 150), "", ""},
		}},
		{"drain holds while firing, and for its cooldown from when it began", specWith(drain, "alice-1", "alice-2", "bob"), []step{
			{0, hostFiring, "", "drain:alice-1 drain:alice-2"},
			{10 * time.Second, nil, "", "drain:alice-1 drain:alice-2"}, // resolved, held
			{20 * time.Second, hostFiring, "", "drain:alice-1 drain:alice-2"},
			{30 * time.Second, nil, "", "drain:alice-1 drain:alice-2"},
			{time.Minute, nil, "", ""}, // cooldown from the start has passed
			{2 * time.Minute, hostFiring, "", "drain:alice-1 drain:alice-2"},
			{3*time.Minute + time.Second, hostFiring, "", "drain:alice-1 drain:alice-2"}, // firing all along: held
		}},
		{"evict_idle down to the threshold, at most once per cooldown", specWith(evict, "alice", "bob"), []step{
			{0, firing("full", "alice", 5), "", "evict_idle:alicex3"},
			{10 * time.Second, firing("full", "alice", 3), "", ""},
			{30 * time.Second, firing("full", "alice", 3), "", "evict_idle:alicex1"},
		}},
		{"evict_idle acts only while the condition holds, not while it keeps firing", specWith(evict, "alice"), []step{
			{0, []Series{{Alert: "full", Server: "alice", State: Firing, Value: 5, Op: "above", KeepFiringSince: t0}}, "", ""},
		}},
		{"evict_idle on sessions_ratio counts with the server's max", specWith(ratio, "alice"), []step{
			{0, firing("ratio", "alice", 1), "", "evict_idle:alicex2"}, // 4 of 4, down to 2
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m Memory
			for i, st := range c.steps {
				if st.done != "" {
					m.Restarted(st.done, t0.Add(st.at))
				}
				got := showDirectives(Decide(c.spec, st.series, &m, t0.Add(st.at)))
				if got != st.want {
					t.Fatalf("step %d (t0+%s): got %q; want %q", i, st.at, got, st.want)
				}
			}
		})
	}
}

// TestDecideForgets: what a removed rule held or asked ends with it.
func TestDecideForgets(t *testing.T) {
	drain := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), Action: ActionDrain, Cooldown: time.Hour, Servers: []string{"*"}}
	var m Memory
	if got := showDirectives(Decide(specWith(drain, "a"), []Series{{Alert: "mem", State: Firing}}, &m, t0)); got != "drain:a" {
		t.Fatalf("got %q", got)
	}
	if got := showDirectives(Decide(specWith(&spec.Alert{Name: "other", Action: ActionNotify}, "a"), nil, &m, t0.Add(time.Second))); got != "" {
		t.Fatalf("the rule is gone, yet: %q", got)
	}
	if len(m.Holds)+len(m.Last) != 0 {
		t.Fatalf("memory kept %v", m)
	}
}

// TestDecideRestartTakenBack: a restart asked for and not yet done (its
// server drains) is dropped when the rule is removed.
func TestDecideRestartTakenBack(t *testing.T) {
	restart := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), Action: ActionRestart, Cooldown: time.Hour, Servers: []string{"a"}}
	var m Memory
	if got := showDirectives(Decide(specWith(restart, "a"), []Series{{Alert: "mem", State: Firing}}, &m, t0)); got != "restart:a" {
		t.Fatalf("got %q", got)
	}
	if got := showDirectives(Decide(specWith(&spec.Alert{Name: "x", Action: ActionNotify}, "a"), nil, &m, t0.Add(time.Second))); got != "" || len(m.Restarts) != 0 {
		t.Fatalf("the rule is gone, yet: %q, %v", got, m.Restarts)
	}
}

// TestHoldUntil (NextChange): a pass is due when a hold's cooldown ends, not at once for
// a hold whose cooldown has passed and whose alert still fires.
func TestHoldUntil(t *testing.T) {
	drain := &spec.Alert{Name: "mem", Metric: "host.memory_percent", Above: num(90), Action: ActionDrain, Cooldown: time.Minute, Servers: []string{"a"}}
	s := specWith(drain, "a")
	var m Memory
	Decide(s, []Series{{Alert: "mem", State: Firing}}, &m, t0)
	if got := NextChange(s, nil, m, t0.Add(time.Second)); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextChange = %s; want t0+1m", got)
	}
	if got := NextChange(s, nil, m, t0.Add(2*time.Minute)); !got.IsZero() {
		t.Errorf("NextChange after the cooldown = %s; want zero (no pass needed for it)", got)
	}
}
