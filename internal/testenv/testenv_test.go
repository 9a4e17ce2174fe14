package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGit: Git commits as the tests' fixed committer on a main branch, and
// returns git's output trimmed.
func TestGit(t *testing.T) {
	dir := t.TempDir()
	Git(t, dir, "init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "add", "f")
	Git(t, dir, "commit", "-q", "-m", "one")
	if got := Git(t, dir, "log", "-1", "--format=%an <%ae> %cn <%ce>"); got != "lucid-rdp test <test@example.invalid> lucid-rdp test <test@example.invalid>" {
		t.Errorf("author and committer: %q", got)
	}
	if got := Git(t, dir, "symbolic-ref", "--short", "HEAD"); got != "main" {
		t.Errorf("branch %q; want main", got)
	}
	if got := Git(t, dir, "rev-parse", "HEAD"); len(got) != 40 {
		t.Errorf("rev-parse HEAD: %q; want 40 hex digits, trimmed", got)
	}
}
