package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// The pull recipe the examples ship.
const pullUnitFile = "../examples/systemd/lucid-rdp-pull.service"

// gitIn runs git in dir as a test's committer and returns its output,
// trimmed (testenv.Git).
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return testenv.Git(t, dir, args...)
}

// pullRecipe runs the pull unit's ExecStart, on checkout instead of
// /etc/lucid-rdp.
func pullRecipe(t *testing.T, u unit, checkout string) {
	t.Helper()
	argv := u.argv(t, "ExecStart", 0)
	for i, a := range argv {
		if a == "/etc/lucid-rdp" {
			argv[i] = checkout
		}
	}
	if !strings.Contains(strings.Join(argv, " "), checkout) {
		t.Fatalf("ExecStart=%s does not name /etc/lucid-rdp", u.get("ExecStart", ""))
	}
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("the pull unit's command %v: %v\n%s", argv, err, out)
	}
}

// TestPullRecipe: an agent on a Git checkout, pulled by the example pull
// unit's own command line: a pushed commit is pulled and converged, and the
// agent reports its revision; a broken commit is pulled and refused, the last
// good spec stays in force and its revision with it, and status names the
// refused commit; the fix after it converges.
func TestPullRecipe(t *testing.T) {
	need(t, "git")
	h := newHost(t)
	u := readUnit(t, pullUnitFile)
	if u.get("Type", "") != "oneshot" {
		t.Errorf("Type=%s; a pull is a oneshot", u.get("Type", ""))
	}

	// The fleet's repository (bare, as on a Git server), an operator's clone,
	// and the host's checkout, which is the agent's spec folder.
	origin := filepath.Join(h.dir, "origin.git")
	ops := filepath.Join(h.dir, "ops")
	checkout := filepath.Join(h.dir, "checkout")
	gitIn(t, h.dir, "init", "-q", "--bare", origin)
	gitIn(t, h.dir, "clone", "-q", origin, ops)
	api := h.base + 19
	agentBlock := h.agentBlock(api, "")
	server := func(name string, port int) string { return fmt.Sprintf("server %q {\n  port = %d\n}\n\n", name, port) }
	push := func(body, msg string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ops, "lucid-rdp.hcl"), []byte(agentBlock+body), 0o644); err != nil {
			t.Fatal(err)
		}
		gitIn(t, ops, "add", "-A")
		gitIn(t, ops, "commit", "-q", "-m", msg)
		gitIn(t, ops, "push", "-q", "origin", "HEAD:main")
		return gitIn(t, ops, "rev-parse", "HEAD")
	}
	first := push(server("a", h.base+1), "a")
	gitIn(t, h.dir, "clone", "-q", "--branch", "main", origin, checkout)

	pull := func() { t.Helper(); pullRecipe(t, u, checkout) }

	cmd := exec.Command(bin, "agent", "-config", filepath.Join(checkout, "lucid-rdp.hcl"))
	a := h.startAgentCmd(api, 10*time.Second, cmd)
	up(t, h.base+1)
	spec := func() map[string]any { s, _ := a.status(t)["spec"].(map[string]any); return s }
	if got := spec()["revision"]; got != first {
		t.Errorf("revision %v; want %s", got, first)
	}
	if got := a.metric(t, `lucid_rdp_spec_info{revision="`+first+`"}`); got != "1" {
		t.Errorf("spec_info{revision=%s} = %q; want 1", first, got)
	}

	// A commit adds b: pulled, seen by the folder watch, converged.
	second := push(server("a", h.base+1)+server("b", h.base+2), "add b")
	pull()
	waitFor(t, 10*time.Second, "b after the pull", func() bool { return probeOK(h.base + 2) })
	waitFor(t, 5*time.Second, "the new revision", func() bool { return spec()["revision"] == second })

	// A broken commit: pulled, refused; b and the revision in force stay.
	broken := push(server("a", h.base+1)+"server \"b\" {\n  port = \n", "break b")
	pull()
	waitFor(t, 10*time.Second, "the broken commit to be refused", func() bool { return spec()["error_revision"] == broken })
	if s := spec(); s["revision"] != second || !strings.Contains(fmt.Sprint(s["error"]), "lucid-rdp.hcl:") {
		t.Errorf("after the broken commit: %v; want revision %s in force and the error with its line", s, second)
	}
	if code, out := a.get(t, "/metrics", ""); code != 200 || !strings.Contains(out, "lucid_rdp_spec_last_reload_successful 0") {
		t.Error("spec_last_reload_successful is not 0 after a refused commit")
	}
	up(t, h.base+1)
	up(t, h.base+2)

	// The fix converges (b goes) and clears the error.
	fixed := push(server("a", h.base+1), "drop b")
	pull()
	waitFor(t, 10*time.Second, "the fix", func() bool {
		s := spec()
		return s["revision"] == fixed && s["error"] == nil && !listening(t, h.base+2)
	})
}
