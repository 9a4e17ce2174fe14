package agent

import (
	"github.com/lucid-rdp/lucid-rdp/internal/gitrev"
)

// revisionOf returns the Git commit of the checkout that holds the folder
// dir (the spec's: watchDir), or "" when none does: so that an operator sees
// which commit each host runs (status, /v1/status and
// lucid_rdp_spec_info{revision}).
func revisionOf(dir string) string {
	rev, err := gitrev.Of(dir)
	if err != nil {
		return ""
	}
	return rev
}

// setRevision records rev as the revision in force. a.mu must be held.
func (a *Agent) setRevision(rev string) {
	if rev == a.revision && a.m.revisionSet {
		return
	}
	a.revision = rev
	a.m.specInfo.Reset()
	a.m.specInfo.WithLabelValues(rev).Set(1)
	a.m.revisionSet = true
}
