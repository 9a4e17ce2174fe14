package agent

import (
	"os"
	"path/filepath"

	"github.com/lucid-rdp/lucid-rdp/internal/gitrev"
)

// revisionOf returns the Git commit of the checkout that holds the spec at
// path (a file, or a folder of them), or "" when none does: so that an
// operator sees which commit each host runs (status, /v1/status and
// lucid_rdp_spec_info{revision}).
func revisionOf(path string) string {
	dir := path
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		dir = filepath.Dir(path)
	}
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
