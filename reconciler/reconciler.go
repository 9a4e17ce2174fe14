package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Reconciler converges a host to a spec through its drivers.
type Reconciler struct {
	// Drivers maps driver names to drivers.
	Drivers map[string]drivers.Driver
	// Log receives the reconciler's logs.
	Log hclog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ReadSockets reads the host's socket table; socktab.Read when nil.
	ReadSockets func() (*socktab.Table, error)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) log() hclog.Logger {
	if r.Log == nil {
		return hclog.NewNullLogger()
	}
	return r.Log
}

// readSockets returns how this reconciler reads the socket table.
func (r *Reconciler) readSockets() func() (*socktab.Table, error) {
	if r.ReadSockets == nil {
		return socktab.Read
	}
	return r.ReadSockets
}

// Sessions lists the live sessions of instances and their leftovers, as
// Observe does, from a look at the host of their own: for a look at sessions
// between passes.
func (r *Reconciler) Sessions(ctx context.Context, instances []drivers.Instance) drivers.SessionLook {
	return listSessions(ctx, r.driverList(), instances, drivers.NewHost(r.readSockets()))
}

// driverList returns the drivers in name order.
func (r *Reconciler) driverList() []drivers.Driver {
	names := make([]string, 0, len(r.Drivers))
	for n := range r.Drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]drivers.Driver, len(names))
	for i, n := range names {
		out[i] = r.Drivers[n]
	}
	return out
}

// Observe reads the host's live state for s.
func (r *Reconciler) Observe(ctx context.Context, s *spec.Spec) (*Observed, error) {
	st, err := LoadState(s.Agent.StateDir)
	stateProblem := ""
	if errors.Is(err, ErrCorruptState) {
		stateProblem = err.Error()
	} else if err != nil {
		return nil, err
	}
	obs, err := Observe(ctx, s, r.driverList(), st, r.readSockets())
	if obs != nil {
		obs.StateProblem = stateProblem
	}
	return obs, err
}

// Plan observes the host and plans the way to s. It changes nothing.
//
// It plans what the alerts, as the running agent last evaluated them, ask of
// the servers, so that a plan by hand (or the agent's /v1/plan) shows it.
// With no agent running nothing evaluates them: a plan by hand converges to
// the spec alone, and undoes what they held. The agent's own passes observe
// and evaluate afresh instead.
func (r *Reconciler) Plan(ctx context.Context, s *spec.Spec) (*Plan, *Observed, error) {
	obs, err := r.Observe(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	if as, err := LoadAlertState(s.Agent.StateDir); err == nil && as.Agent != nil && as.Agent.Matches() {
		obs.AlertActions = alerts.Decide(s, as.Series, &as.Memory, r.now())
	}
	return MakePlan(s, obs, r.now()), obs, nil
}

// Apply carries out p (made for s) and saves the resulting state. The caller
// holds the state lock.
func (r *Reconciler) Apply(ctx context.Context, s *spec.Spec, p *Plan) (*Result, error) {
	res, st := Apply(ctx, p, r.Drivers, s.Agent.Parallelism, r.now())
	for _, o := range res.Outcomes {
		if o.Err != nil {
			r.log().Error("change failed", "server", o.Change.Server, "action", o.Change.Action, "error", o.Err)
		} else {
			r.log().Info("changed", "server", o.Change.Server, "action", o.Change.Action)
		}
	}
	if p.stateCorrupt {
		keepCorruptState(s.Agent.StateDir)
	}
	if err := SaveState(s.Agent.StateDir, st); err != nil {
		return res, err
	}
	return res, nil
}

// Reconcile is one full pass: observe, plan, apply. The returned error joins
// every server that failed, so one failure never hides another.
func (r *Reconciler) Reconcile(ctx context.Context, s *spec.Spec) (*Result, error) {
	unlock, err := Lock(s.Agent.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, _, err := r.Plan(ctx, s)
	if err != nil {
		return nil, err
	}
	res, err := r.Apply(ctx, s, p)
	if err != nil {
		return res, err
	}
	return res, res.Err(p)
}

// Err joins the failures of a result and the problems of its plan into one
// error naming each failed server, or nil.
func (res *Result) Err(p *Plan) error {
	var msgs []string
	for _, prob := range p.Problems {
		msgs = append(msgs, fmt.Sprintf("%s: %s", prob.Server, prob.Error))
	}
	for _, o := range res.Failed() {
		msgs = append(msgs, fmt.Sprintf("%s: %s: %v", o.Change.Server, o.Change.Action, o.Err))
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}
