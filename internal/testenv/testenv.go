// Package testenv is what the tests share about where they run: whether
// this is CI, where a missing real component (xrdp, Xvfb, Alertmanager,
// root) fails a test instead of skipping it, and the real samples fuzz
// targets are seeded with.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI: $CI set, and not "false".
func CI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false"
}

// Missing ends tb for a real component it needs and cannot have: a skip on
// a developer's machine, a failure under CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("%s (CI=true does not allow skipping: scripts/setup.sh test installs what the tests need)", msg)
	}
	tb.Skip(msg)
}

// Samples returns every file under the package's testdata/dir: real
// samples of what a parser reads (each testdata/README.md says where they
// come from). None is a failure: the fuzz target would start from nothing.
func Samples(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no samples in testdata/%s", dir)
	}
	var out [][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// Git runs git in dir as a test's committer (a fixed name and address,
// whatever the machine's configuration says), with main as the first
// branch of a new repository and no advice on a detached HEAD, and returns
// its output, trimmed. No git is Missing; git failing fails tb, with its
// output.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		Missing(tb, "git is not installed")
	}
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=lucid-rdp test", "-c", "user.email=test@example.invalid",
		"-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false",
	}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}
