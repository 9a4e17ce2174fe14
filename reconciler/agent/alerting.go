package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sort"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/reconciler/notify"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Alerts, as the agent runs them. Each pass:
//
//  1. samples the host, every declared server and every port range
//     (samples), from what the pass observed;
//  2. evaluates the spec's rules against them (alerts.Eval) and decides what
//     the firing ones ask of the servers (alerts.Decide);
//  3. hands that to the planner, which carries it out with the same safety
//     rules as any edit (a restart of a server with sessions drains first);
//  4. counts each action it took, saves the alerts' state to
//     state_dir/alerts.json (so a restarted agent keeps their timers and
//     cooldowns), and hands firing and resolved series to the notifiers,
//     which send them on their own goroutines: a slow or dead Alertmanager
//     never slows a pass.

// alerting is what the agent keeps of alerts. Only the loop uses it, but for
// the notifiers' counters.
type alerting struct {
	state reconciler.AlertState
	saved []byte // alerts.json as last written
	host  string
	// notifiers run by name; each has its own goroutine.
	notifiers map[string]*runningNotifier
	// gone are the resolutions of series whose rule was removed while they
	// fired, for the notifiers.
	gone []notify.Alert
}

// removedRules returns, resolved at now, the firing series of st whose rule s
// no longer has: Eval drops them silently, and a receiver that heard them
// fire must hear them end (Alertmanager would time them out by endsAt; a
// webhook receiver would not).
func removedRules(st reconciler.AlertState, s *spec.Spec, now time.Time) []notify.Alert {
	kept := make(map[string]bool, len(s.Alerts))
	for _, r := range s.Alerts {
		kept[r.Name] = true
	}
	var out []notify.Alert
	for _, se := range st.Series {
		l, known := st.Rules[se.Alert]
		if kept[se.Alert] || se.State != alerts.Firing || !known {
			continue
		}
		se.State, se.ResolvedAt = alerts.Resolved, now
		out = append(out, toNotify(se, l))
	}
	return out
}

// toNotify is series se of a rule labelled l, as notifiers send it.
func toNotify(se alerts.Series, l reconciler.RuleLabels) notify.Alert {
	return notify.Alert{Name: se.Alert, Server: se.Server, Range: se.Range, Metric: l.Metric, Op: se.Op,
		Value: se.Value, Threshold: se.Threshold, Action: l.Action, Severity: l.Severity, State: se.State,
		StartsAt: se.FiredAt, EndsAt: se.ResolvedAt}
}

type runningNotifier struct {
	cfg    spec.Notifier
	n      *notify.Notifier
	cancel context.CancelFunc
}

func newAlerting(stateDir string, log interface{ Warn(string, ...any) }) *alerting {
	host, _ := os.Hostname()
	al := &alerting{host: host, notifiers: map[string]*runningNotifier{}}
	st, err := reconciler.LoadAlertState(stateDir)
	if err != nil {
		log.Warn("alerts", "error", err)
	}
	al.state = st
	al.state.Agent = nil
	pid := os.Getpid()
	if start, err := procfs.StartTime(pid); err == nil {
		if exe, err := procfs.Exe(pid); err == nil {
			al.state.Agent = &procfs.Identity{PID: pid, StartTime: start, Exe: exe}
		}
	}
	return al
}

// samples returns this pass's values of every metric an alert may watch.
func (a *Agent) samples(s *spec.Spec, obs *reconciler.Observed) alerts.Samples {
	hostCPU, hostMem := hostUsage()
	out := alerts.Samples{
		Host:    map[string]float64{"host.cpu_percent": hostCPU, "host.memory_percent": hostMem},
		Servers: make(map[string]map[string]float64, len(s.Servers)),
		Ranges:  make(map[string]float64, len(s.PortRanges)),
	}
	if u, err := disk.Usage(s.Agent.StateDir); err == nil {
		out.Host["host.disk_percent"] = u.UsedPercent
	}
	if l, err := load.Avg(); err == nil {
		out.Host["host.load1"] = l.Load1
	}
	sessions := obs.SessionCounts()
	running := make(map[string]bool, len(obs.Instances))
	used := map[int]bool{}
	for _, in := range obs.Instances {
		running[in.Name] = in.State == drivers.StateRunning
		used[in.Config.Port] = true
	}
	for _, port := range obs.State.Ports {
		used[port] = true
	}
	a.mu.Lock()
	restarts := make(map[string]int, len(a.restarts))
	for k, v := range a.restarts {
		restarts[k] = v
	}
	a.mu.Unlock()
	for _, srv := range s.Servers {
		m := map[string]float64{"server.sessions": float64(sessions[srv.Name]), "server.restarts": float64(restarts[srv.Name])}
		if _, unseen := obs.SessionsUnseen[srv.Name]; unseen {
			delete(m, "server.sessions") // not known: no sample, rather than a wrong 0
		} else if srv.Sessions.Max > 0 {
			m["server.sessions_ratio"] = float64(sessions[srv.Name]) / float64(srv.Sessions.Max)
		}
		// up: runs as the spec says; a drained server is up, as asked.
		m["server.up"] = 0
		if running[srv.Name] {
			m["server.up"] = 1
		}
		// No figure is no sample, not 0: a `below` alert must not fire on
		// a server its driver could not read.
		if u, ok := a.usage.get(srv.Name); ok {
			m["server.memory_bytes"] = float64(u.rss)
			if u.hasCPU {
				m["server.cpu_percent"] = u.cpuPercent
			}
		}
		out.Servers[srv.Name] = m
	}
	for _, r := range s.PortRanges {
		n := 0
		for port := range used {
			if r.Contains(port) {
				n++
			}
		}
		out.Ranges[r.Name] = float64(r.Size() - n)
	}
	return out
}

// evaluate evaluates the alerts on what a pass observed and sets what they
// ask of the servers as obs.AlertActions, for the plan. It returns the host's
// samples, and when an alert next changes by the clock alone (zero: not
// before the next pass).
func (a *Agent) evaluate(s *spec.Spec, obs *reconciler.Observed, now time.Time) (host map[string]float64, next time.Time) {
	al := a.alerting
	samples := a.samples(s, obs)
	al.gone = append(al.gone, removedRules(al.state, s, now)...)
	al.state.Series = alerts.Eval(s.Alerts, samples, al.state.Series, now)
	al.state.Rules = make(map[string]reconciler.RuleLabels, len(s.Alerts))
	for _, r := range s.Alerts {
		al.state.Rules[r.Name] = reconciler.RuleLabels{Metric: r.Metric, Action: r.Action, Severity: r.Severity}
	}
	obs.AlertActions = alerts.Decide(s, al.state.Series, &al.state.Memory, now)
	for _, se := range al.state.Series {
		if se.State == alerts.Firing && se.FiredAt.Equal(now) {
			r := s.Alert(se.Alert)
			a.log.Warn("alert firing", "alert", se.Alert, "server", se.Server, "range", se.Range, "summary", alerts.Summary(r, se), "action", r.Action)
			if r.Action == alerts.ActionNotify {
				a.m.alertActions.WithLabelValues(se.Alert, alerts.ActionNotify).Inc()
			}
		}
		if se.State == alerts.Resolved {
			a.log.Info("alert resolved", "alert", se.Alert, "server", se.Server, "range", se.Range)
		}
	}
	return samples.Host, alerts.NextChange(s, al.state.Series, al.state.Memory, now)
}

// stateKey is st without its series' values: what decides whether it is
// worth saving.
func stateKey(st reconciler.AlertState) []byte {
	st.Series = append([]alerts.Series(nil), st.Series...)
	for i := range st.Series {
		st.Series[i].Value = 0
	}
	b, _ := json.Marshal(st)
	return b
}

// afterApply notes what the pass's changes did for the alerts: restarts done,
// each action taken counted; it saves the alerts' state and hands the series
// to the notifiers.
func (a *Agent) afterApply(ctx context.Context, s *spec.Spec, res *reconciler.Result, now time.Time) {
	al := a.alerting
	for _, o := range res.Outcomes {
		c := o.Change
		if o.Err != nil {
			continue
		}
		if c.Action == reconciler.Replace {
			al.state.Memory.Restarted(c.Server, now) // any replace is a restart
		}
		if c.EndFor != "" && len(o.Ended) > 0 {
			a.m.alertActions.WithLabelValues(c.EndFor, alerts.ActionEvictIdle).Add(float64(len(o.Ended)))
		}
		// A restart's drain is counted when the restart is done; an
		// eviction, above, per session.
		if c.Alert == "" || c.Action == reconciler.Drain || c.Action == reconciler.Evict {
			continue
		}
		action := al.state.Rules[c.Alert].Action
		a.m.alertActions.WithLabelValues(c.Alert, action).Inc()
		a.log.Info("alert action taken", "alert", c.Alert, "action", action, "server", c.Server, "change", c.Action, "reason", c.Reason)
	}
	// Saved when more than the values changed: a pending or firing series
	// has a new value every pass, and a Pi's SD card need not hear of each.
	if b := stateKey(al.state); !bytes.Equal(b, al.saved) {
		if err := reconciler.SaveAlertState(s.Agent.StateDir, al.state); err != nil {
			a.log.Warn("alerts: could not save their state", "error", err)
		} else {
			al.saved = b
		}
	}
	a.notify(ctx, s)
}

// notify hands the firing and resolved series to every notifier of s,
// starting the notifiers s declares anew and stopping those it no longer has.
func (a *Agent) notify(ctx context.Context, s *spec.Spec) {
	al := a.alerting
	want := map[string]bool{}
	for _, n := range s.Notifiers {
		want[n.Name] = true
		if run, ok := al.notifiers[n.Name]; ok && run.cfg.Type == n.Type && run.cfg.URL == n.URL {
			continue
		} else if ok {
			run.cancel()
		}
		nctx, cancel := context.WithCancel(ctx)
		nt := notify.New(notify.Config{Name: n.Name, Type: n.Type, URL: n.URL, Host: al.host, Log: a.log.Named("notify"),
			Sent: func(name string, ok bool) {
				result := "ok"
				if !ok {
					result = "error"
				}
				a.m.notifications.WithLabelValues(name, result).Inc()
			}})
		go nt.Run(nctx)
		al.notifiers[n.Name] = &runningNotifier{cfg: *n, n: nt, cancel: cancel}
	}
	for name, run := range al.notifiers {
		if !want[name] {
			run.cancel()
			delete(al.notifiers, name)
		}
	}
	if len(al.notifiers) == 0 {
		al.gone = nil // nobody heard them fire
		return
	}
	var out []notify.Alert
	for _, se := range al.state.Series {
		if l, ok := al.state.Rules[se.Alert]; ok && se.State != alerts.Pending {
			out = append(out, toNotify(se, l))
		}
	}
	out = append(out, al.gone...)
	al.gone = nil
	for _, run := range al.notifiers {
		run.n.Update(out)
	}
}

// alertStatuses sums up each rule of s for /v1/status: inactive, pending or
// firing (the most pressing of its series), since when, and its series.
func alertStatuses(s *spec.Spec, series []alerts.Series) []AlertStatus {
	out := make([]AlertStatus, 0, len(s.Alerts))
	for _, r := range s.Alerts {
		st := AlertStatus{Name: r.Name, Metric: r.Metric, Action: r.Action, State: "inactive", Series: []alerts.Series{}}
		for _, se := range series {
			if se.Alert != r.Name || se.State == alerts.Resolved {
				continue
			}
			st.Series = append(st.Series, se)
			since := se.ActiveAt
			if se.State == alerts.Firing {
				since = se.FiredAt
			}
			switch {
			case se.State == alerts.Firing && st.State != alerts.Firing,
				se.State == st.State && since.Before(st.Since),
				se.State == alerts.Pending && st.State == "inactive":
				st.State, st.Since = se.State, since
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// rejectsNew reports whether an alert holds reject_new on server, for
// naming what its sesman refuses.
func rejectsNew(obs *reconciler.Observed, server string) bool {
	for _, d := range obs.AlertActions {
		if d.Server == server && d.Action == alerts.ActionRejectNew {
			return true
		}
	}
	return false
}
