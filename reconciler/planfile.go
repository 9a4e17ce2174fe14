package reconciler

import (
	"encoding/json"
	"fmt"
	"os"
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

// CheckSaved returns an error wrapping ErrStalePlan unless specHash and the
// host's fingerprint are what they were when sp was made.
func (sp *SavedPlan) CheckSaved(specHash string, obs *Observed) error {
	if sp.Plan.SpecHash != specHash {
		return fmt.Errorf("%w: %s has changed since the plan was made; run plan again", ErrStalePlan, sp.SpecPath)
	}
	if fp := obs.Fingerprint(); fp != sp.Fingerprint {
		return fmt.Errorf("%w: the servers on this host have changed since the plan was made; run plan again", ErrStalePlan)
	}
	return nil
}
