package main

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestHelpGolden: every command's -h (synopsis, what it does, flags named by
// what they take, examples) and the main error messages, as users read them,
// against testdata/help.golden (go test ./cmd/lucid-rdp -update rewrites it).
func TestHelpGolden(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("server \"a\" {\n  port  = 13500\n  count = \"two\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.hcl")
	t.Setenv("NO_COLOR", "")
	t.Setenv("LUCID_RDP_CONFIG", "") // the defaults -h shows
	t.Setenv("LUCID_RDP_ADDR", "")
	cases := [][]string{{"-h"}, {"nope"}}
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "-h"})
		for _, sub := range slices.Sorted(maps.Keys(subcommandFlags[c.name])) {
			cases = append(cases, []string{c.name, sub, "-h"})
		}
	}
	cases = append(cases,
		[]string{"plan", "-config", missing},
		[]string{"apply", "-config", missing, "-auto-approve"},
		[]string{"validate", missing},
		[]string{"agent", "-config", missing},
		[]string{"validate", "-no-color", bad},
		[]string{"completion", "fish"},
	)
	var got bytes.Buffer
	for _, args := range cases {
		code, stdout, stderr := runCLI(t, args...)
		fmt.Fprintf(&got, "$ lucid-rdp %s\n(exit %d)\n%s%s\n", strings.Join(args, " "), code, stdout, stderr)
	}
	text := strings.ReplaceAll(got.String(), dir, "DIR")
	golden := "testdata/help.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if text != string(want) {
		t.Errorf("help and messages differ from %s (go test ./cmd/lucid-rdp -run TestHelpGolden -update, then read the diff); got:\n%s", golden, text)
	}
	// A flag's -h names what it takes, never a back-quoted phrase of its text.
	if strings.Contains(text, "-out apply") {
		t.Error("plan -h shows -out apply: a back-quoted phrase in its usage became the value's name")
	}
}

// TestCompletionFlags: the completion scripts offer each command's flags,
// exactly those its -h lists.
func TestCompletionFlags(t *testing.T) {
	flagRE := regexp.MustCompile(`(?m)^  (-[a-z-]+)`)
	for _, c := range commands() {
		_, _, stderr := runCLI(t, c.name, "-h")
		var listed []string
		for _, m := range flagRE.FindAllStringSubmatch(stderr, -1) {
			listed = append(listed, m[1])
		}
		slices.Sort(listed)
		want := append([]string(nil), commandFlags[c.name]...)
		slices.Sort(want)
		if _, ok := commandFlags[c.name]; !ok || !slices.Equal(listed, want) {
			t.Errorf("%s: -h lists %v; completion offers %v", c.name, listed, want)
		}
	}
	for name, subs := range subcommandFlags {
		for sub, want := range subs {
			_, _, stderr := runCLI(t, name, sub, "-h")
			var listed []string
			for _, m := range flagRE.FindAllStringSubmatch(stderr, -1) {
				listed = append(listed, m[1])
			}
			if !slices.Equal(listed, want) { // -h lists flags sorted, as want is written
				t.Errorf("%s %s: -h lists %v; completion offers %v", name, sub, listed, want)
			}
		}
	}
}

// TestBashCompletion runs the bash script in a real bash: it completes
// commands, a command's flags, and files after -config.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Missing(t, "bash is not installed")
	}
	var script bytes.Buffer
	writeBash(&script)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "desks.hcl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		var q []string
		for _, w := range words {
			q = append(q, fmt.Sprintf("%q", w))
		}
		prog := script.String() + fmt.Sprintf("\nCOMP_WORDS=(%s); COMP_CWORD=%d; _lucid_rdp; echo \"${COMPREPLY[*]}\"\n", strings.Join(q, " "), len(words)-1)
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("lucid-rdp", "pl"); got != "plan" {
		t.Errorf("lucid-rdp pl<TAB> = %q; want plan", got)
	}
	if got := complete("lucid-rdp", "plan", "-d"); got != "-detailed-exitcode" {
		t.Errorf("lucid-rdp plan -d<TAB> = %q", got)
	}
	if got := complete("lucid-rdp", "agent", "-config", "de"); got != "desks.hcl" {
		t.Errorf("lucid-rdp agent -config de<TAB> = %q; want desks.hcl", got)
	}
	if got := complete("lucid-rdp", "completion", ""); got != "bash zsh" {
		t.Errorf("lucid-rdp completion <TAB> = %q", got)
	}
}

// TestZshCompletion checks the zsh script's syntax with zsh itself.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		testenv.Missing(t, "zsh is not installed")
	}
	var script bytes.Buffer
	writeZsh(&script)
	f := filepath.Join(t.TempDir(), "_lucid-rdp")
	if err := os.WriteFile(f, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", f).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
}
