package integration

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseArm64: `make release` builds static linux/amd64 and linux/arm64
// binaries stamped with the version and commit given, and SHA256SUMS that
// match them; the arm64 one, run under qemu-aarch64-static as a Raspberry Pi 5
// would run it, prints its version, validates a spec and plans one with no
// servers.
func TestReleaseArm64(t *testing.T) {
	need(t, "make", "qemu-aarch64-static", "sha256sum")
	dist := t.TempDir()
	const version, commit = "v0.0.0-releasetest", "abc1234"
	cmd := exec.Command("make", "-s", "-C", "..", "release", "DIST="+dist, "VERSION="+version, "COMMIT="+commit)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]elf.Machine{"lucid-rdp-linux-amd64": elf.EM_X86_64, "lucid-rdp-linux-arm64": elf.EM_AARCH64}
	listed := 0
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q is not SUM  NAME", line)
		}
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS: %s does not match", name)
		}
		machine, ok := want[name]
		if !ok {
			t.Errorf("SHA256SUMS lists %s", name)
			continue
		}
		listed++
		checkStaticELF(t, name, bytes.NewReader(b), machine)
	}
	if listed != len(want) {
		t.Fatalf("SHA256SUMS lists %d of the %d binaries:\n%s", listed, len(want), sums)
	}

	arm := filepath.Join(dist, "lucid-rdp-linux-arm64")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("qemu-aarch64-static", append([]string{arm}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("qemu-aarch64-static lucid-rdp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("version"); !strings.Contains(out, "lucid-rdp "+version+" (commit "+commit+",") || !strings.Contains(out, "linux/arm64") {
		t.Errorf("version says %q; want %s, commit %s, linux/arm64", out, version, commit)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "lucid-rdp.hcl")
	src := "agent {\n  state_dir = \"" + filepath.Join(dir, "state") + "\"\n}\n"
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run("validate", spec); !strings.Contains(out, "is valid") {
		t.Errorf("validate says %q", out)
	}
	if out := run("plan", "-no-color", "-config", spec); !strings.Contains(out, "No changes.") {
		t.Errorf("plan of a spec with no servers says %q", out)
	}
}
