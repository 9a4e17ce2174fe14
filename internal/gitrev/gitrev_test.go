package gitrev

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// TestOfRealCheckouts: what Of reads agrees with git rev-parse HEAD on a
// branch, in a subfolder, after pack-refs, detached, in a linked worktree and
// in a clone; outside a checkout and before the first commit it errs.
func TestOfRealCheckouts(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git is not installed")
	}
	repo := t.TempDir()
	testenv.Git(t, repo, "init", "-q")
	if _, err := Of(repo); err == nil {
		t.Error("a repository with no commit has a revision")
	}
	sub := filepath.Join(repo, "fleet")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	commit := func(msg string) string {
		if err := os.WriteFile(filepath.Join(sub, "a.hcl"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, repo, "add", "-A")
		testenv.Git(t, repo, "commit", "-q", "-m", msg)
		return testenv.Git(t, repo, "rev-parse", "HEAD")
	}
	check := func(what, dir, want string) {
		t.Helper()
		got, err := Of(dir)
		if err != nil || got != want {
			t.Errorf("%s: Of = %q, %v; want %s", what, got, err, want)
		}
	}
	first := commit("one")
	check("on a branch", repo, first)
	check("in a subfolder", sub, first)
	second := commit("two")
	check("after a commit", sub, second)
	testenv.Git(t, repo, "pack-refs", "--all")
	check("packed refs", sub, second)
	testenv.Git(t, repo, "checkout", "-q", "--detach", first)
	check("detached", sub, first)
	testenv.Git(t, repo, "checkout", "-q", "main")

	wt := filepath.Join(t.TempDir(), "wt")
	testenv.Git(t, repo, "worktree", "add", "-q", "-b", "other", wt, first)
	check("a linked worktree", wt, first)
	check("the main checkout beside it", repo, second)

	clone := filepath.Join(t.TempDir(), "clone")
	testenv.Git(t, repo, "clone", "-q", repo, clone)
	check("a clone", filepath.Join(clone, "fleet"), second)

	if _, err := Of(t.TempDir()); !errors.Is(err, ErrNotCheckout) {
		t.Errorf("outside a checkout: %v; want ErrNotCheckout", err)
	}
}

func TestIsID(t *testing.T) {
	for s, want := range map[string]bool{
		strings.Repeat("a", 40): true, strings.Repeat("0", 64): true,
		strings.Repeat("A", 40): false, strings.Repeat("a", 39): false, "ref: refs/heads/main": false,
	} {
		if isID(s) != want {
			t.Errorf("isID(%q) = %v", s, !want)
		}
	}
}
