// Package reconciler owns observe -> plan -> apply: it asks every driver what
// it owns, plans the difference against the spec with a pure function (no I/O),
// and applies the plan with bounded parallelism. It also owns port allocation,
// the agent's watch loop, alerts and session policy.
//
// It must not talk to xrdp, Docker or the process table itself: all of that goes
// through the drivers.Driver contract.
package reconciler
