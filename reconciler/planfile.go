package reconciler

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// SavedPlan is a plan written by `plan -out` for a later `apply PLAN`.
type SavedPlan struct {
	FormatVersion string `json:"format_version"`
	// SpecPath is the absolute path of the spec the plan was made from.
	SpecPath string `json:"spec_path"`
	// Fingerprint is the live host's fingerprint when the plan was made.
	Fingerprint string `json:"host_fingerprint"`
	Plan        *Plan  `json:"plan"`
}

// WritePlanFile saves a plan.
func WritePlanFile(path string, sp *SavedPlan) error {
	sp.FormatVersion = "1"
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadPlanFile loads a saved plan.
func ReadPlanFile(path string) (*SavedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sp SavedPlan
	if err := json.Unmarshal(b, &sp); err != nil || sp.Plan == nil || sp.FormatVersion != "1" {
		return nil, fmt.Errorf("%s is not a lucid-rdp plan file", path)
	}
	return &sp, nil
}

// ErrStalePlan is returned for a saved plan that no longer fits.
var ErrStalePlan = fmt.Errorf("reconciler: saved plan is stale")

// CheckSaved re-plans s against the live host and returns that plan when it
// makes the same changes as the saved one, and an error wrapping ErrStalePlan
// otherwise. No change of the file is carried out: a plan file edited by hand
// (a change for a server the spec does not name, say "../../victim") can only
// be refused, since the plan that runs is always made afresh from the spec.
// Which spec that is, the file says (SpecPath); apply shows it, and refuses
// one that differs from its -config.
func (sp *SavedPlan) CheckSaved(s *spec.Spec, obs *Observed, now time.Time) (*Plan, error) {
	if sp.Plan.SpecHash != SpecHash(s) {
		return nil, fmt.Errorf("%w: %s has changed since the plan was made; run plan again", ErrStalePlan, sp.SpecPath)
	}
	if fp := obs.Fingerprint(); fp != sp.Fingerprint {
		return nil, fmt.Errorf("%w: the servers on this host have changed since the plan was made; run plan again", ErrStalePlan)
	}
	fresh := MakePlan(s, obs, now)
	if changesKey(fresh) != changesKey(sp.Plan) {
		return nil, fmt.Errorf("%w: the plan file does not match what the spec and the host call for now (edited, or a drain timed out since); run plan again", ErrStalePlan)
	}
	return fresh, nil
}

// changesKey names a plan's changes: server, action (and what follows a
// drain), driver, the config each would run with, and the sessions each
// would end: a saved plan ends no session it did not show.
func changesKey(p *Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		after := ""
		if c.After != nil {
			a, _ := json.Marshal(c.After)
			after = string(a)
		}
		fmt.Fprintf(&b, "%q %s %s %q %s", c.Server, c.Action, c.Then, c.Driver, after)
		for _, s := range c.End {
			fmt.Fprintf(&b, " end:%d/%d", s.XPID, s.XStartTime)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
