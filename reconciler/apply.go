package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// Outcome is what became of one change.
type Outcome struct {
	Change Change
	// Err is nil when the change was made.
	Err error
	// Instance is the server after a create or replace.
	Instance *drivers.Instance
	// Ended are the sessions the change ended (Change.End, those that were
	// ended before any error).
	Ended []drivers.Session
}

// Result is what Apply did: one outcome per change.
type Result struct {
	Outcomes []Outcome
}

// Failed returns the outcomes that failed.
func (r *Result) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// stopGrace is how long a listener has to exit after SIGTERM (or a container
// after "stop") before it is killed. Listeners hold no sessions, so it is short.
const stopGrace = 5 * time.Second

// Apply carries out p with at most parallelism driver actions at once. It runs
// in two phases: first every stop (deletes, drains, and the first half of
// replaces), then every start and update, so that a port given up by one server
// is free when another takes it. A failing change never stops the others.
func Apply(ctx context.Context, p *Plan, ds map[string]drivers.Driver, parallelism int, now time.Time) (*Result, State) {
	res := &Result{Outcomes: make([]Outcome, len(p.Changes))}
	for i, c := range p.Changes {
		res.Outcomes[i].Change = c
	}
	driverOf := func(name string) (drivers.Driver, error) {
		d, ok := ds[name]
		if !ok {
			return nil, fmt.Errorf("no %s driver on this host", name)
		}
		return d, nil
	}
	run := func(phase func(i int, c Change) error) {
		sem := make(chan struct{}, max(parallelism, 1))
		var wg sync.WaitGroup
		for i, c := range p.Changes {
			if res.Outcomes[i].Err != nil {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := phase(i, c); err != nil {
					res.Outcomes[i].Err = err
				}
			}()
		}
		wg.Wait()
	}

	// Phase 1: stops.
	run(func(i int, c Change) error {
		if c.Before == nil {
			return nil
		}
		d, err := driverOf(c.Before.Driver)
		if err != nil {
			return err
		}
		// Sessions a Delete or Replace ends: a drain_timeout passed.
		ended, err := endSessions(ctx, c.End)
		res.Outcomes[i].Ended = ended
		if err != nil {
			return err // the server stays, and the next pass tries again
		}
		switch c.Action {
		case Delete:
			return d.Stop(ctx, c.Server, stopGrace, true)
		case Drain:
			if dr, ok := d.(drivers.Drainer); ok {
				return dr.Drain(ctx, c.Server)
			}
			return nil // left running: its sessions go on until they end or drain_timeout passes
		case Replace:
			// A driver change forgets the old driver's record; otherwise the
			// record is rewritten by the start that follows.
			return d.Stop(ctx, c.Server, stopGrace, c.Before.Driver != c.Driver)
		case Create:
			if c.Before.Driver != c.Driver {
				return nil
			}
			return d.Stop(ctx, c.Server, stopGrace, false) // clear leftovers of a dead instance
		}
		return nil
	})
	// Phase 2: starts and updates.
	run(func(i int, c Change) error {
		switch c.Action {
		case Create, Replace:
			d, err := driverOf(c.Driver)
			if err != nil {
				return err
			}
			in, err := d.Start(ctx, *c.After)
			if err != nil {
				return err
			}
			res.Outcomes[i].Instance = &in
		case Update:
			d, err := driverOf(c.Driver)
			if err != nil {
				return err
			}
			return d.Update(ctx, *c.After)
		}
		return nil
	})
	return res, nextState(p, res, now)
}

// endSessions ends sessions, all at once, and returns those it ended (not
// those that had ended by themselves meanwhile).
func endSessions(ctx context.Context, sessions []drivers.Session) ([]drivers.Session, error) {
	errs := make([]error, len(sessions))
	ended := make([]bool, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Go(func() { ended[i], errs[i] = drivers.EndSession(ctx, s, stopGrace) })
	}
	wg.Wait()
	var out []drivers.Session
	for i, s := range sessions {
		if ended[i] {
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

// nextState is the State after applying p: ports as planned, and drains begun
// or finished.
func nextState(p *Plan, res *Result, now time.Time) State {
	st := State{Ports: map[string]int{}, Draining: map[string]time.Time{}}
	for name, port := range p.Ports {
		st.Ports[name] = port
	}
	for name, since := range p.Draining {
		st.Draining[name] = since
	}
	for _, o := range res.Outcomes {
		c := o.Change
		switch {
		case c.Action == Drain && o.Err == nil:
			if _, already := st.Draining[c.Server]; !already {
				st.Draining[c.Server] = now
			}
			if c.Before != nil {
				st.Ports[c.Server] = c.Before.Config.Port
			}
		case c.Action == Delete && o.Err == nil:
			delete(st.Draining, c.Server)
			delete(st.Ports, c.Server)
		case (c.Action == Replace || c.Action == Update || c.Action == Create) && o.Err == nil:
			delete(st.Draining, c.Server) // a drain for a replace is over
		case c.Action == Delete || c.Action == Drain:
			if c.Before != nil {
				st.Ports[c.Server] = c.Before.Config.Port
			}
		}
	}
	if len(st.Draining) == 0 {
		st.Draining = nil
	}
	return st
}
