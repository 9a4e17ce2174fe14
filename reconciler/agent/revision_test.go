package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// TestRevisionOfPulledSpec: a spec in a Git checkout reports the commit in
// force (status and lucid_rdp_spec_info); a broken commit is refused, named by
// its own commit, while the last good one stays the revision in force; a
// commit that leaves the spec as it is becomes the revision in force.
func TestRevisionOfPulledSpec(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		return testenv.Git(t, dir, args...)
	}
	path := filepath.Join(dir, "lucid-rdp.hcl")
	commit := func(name, body string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "-A")
		git("commit", "-q", "-m", name)
		return git("rev-parse", "HEAD")
	}
	git("init", "-q")
	good := commit("lucid-rdp.hcl", "server \"a\" {\n  port = 13500\n}\n")
	a := &Agent{cfg: Config{SpecPath: path}, log: hclog.NewNullLogger(), m: newMetrics("test")}
	if ok, err := a.reload(true); !ok || err != nil {
		t.Fatalf("first load: %v, %v", ok, err)
	}
	// info returns spec_info's series: revision label to value.
	info := func() map[string]float64 {
		t.Helper()
		fams, err := a.m.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range fams {
			if f.GetName() == "lucid_rdp_spec_info" {
				for _, m := range f.GetMetric() {
					out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	only := func(rev string) bool { i := info(); return len(i) == 1 && i[rev] == 1 }
	if st := a.Status().Spec; st.Revision != good || st.ErrorRevision != "" || !only(good) {
		t.Fatalf("after the first commit: %+v, spec_info %v; want revision %s", st, info(), good)
	}

	broken := commit("lucid-rdp.hcl", "server \"a\" {\n  port = \n")
	if ok, err := a.reload(false); ok || err == nil {
		t.Fatalf("a broken commit: %v, %v; want refused", ok, err)
	}
	if st := a.Status().Spec; st.Revision != good || st.ErrorRevision != broken || st.Error == "" {
		t.Errorf("after a broken commit: revision %s, error_revision %s; want %s in force and %s refused", st.Revision, st.ErrorRevision, good, broken)
	}
	if !only(good) {
		t.Errorf("spec_info after a broken commit: %v; want only the good revision", info())
	}

	fixed := commit("lucid-rdp.hcl", "server \"a\" {\n  port = 13500\n}\n")
	if _, err := a.reload(false); err != nil {
		t.Fatal(err)
	}
	other := commit("README", "words\n") // the spec's bytes are those in force
	if _, err := a.reload(false); err != nil {
		t.Fatal(err)
	}
	if st := a.Status().Spec; st.Revision != other || st.ErrorRevision != "" || !only(other) {
		t.Errorf("after %s (fix) and %s (README): %+v; want revision %s and one spec_info series", fixed, other, st, other)
	}
}
