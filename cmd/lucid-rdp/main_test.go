package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

var wantRE = regexp.MustCompile(`^# want: (\d+): (.+)`)

// TestValidateBadFiles: `lucid-rdp validate` exits 1 on every bad spec and
// reports the expected summary at FILE:LINE.
func TestValidateBadFiles(t *testing.T) {
	files, _ := filepath.Glob("../../spec/testdata/bad/*.hcl")
	if len(files) == 0 {
		t.Fatal("no bad specs found")
	}
	for _, file := range files {
		src, _ := os.ReadFile(file)
		m := wantRE.FindStringSubmatch(string(src))
		if m == nil {
			t.Fatalf("%s: no want line", file)
		}
		code, _, stderr := runCLI(t, "validate", file)
		if code != exitError {
			t.Errorf("%s: exit %d; want 1", file, code)
		}
		want := file + ":" + m[1] + ":"
		if !strings.Contains(stderr, want) || !strings.Contains(stderr, m[2]) {
			t.Errorf("%s: output lacks %q and %q:\n%s", file, want, m[2], stderr)
		}
	}
}

func TestValidateGood(t *testing.T) {
	code, stdout, stderr := runCLI(t, "validate", "../../lucid-rdp.hcl")
	if code != exitOK || !strings.Contains(stdout, "is valid") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// The default file comes from LUCID_RDP_CONFIG when no FILE is given.
	t.Setenv("LUCID_RDP_CONFIG", "../../spec/testdata/bad/port-zero.hcl")
	if code, _, stderr := runCLI(t, "validate"); code != exitError || !strings.Contains(stderr, "port-zero.hcl:3:") {
		t.Errorf("LUCID_RDP_CONFIG ignored: exit %d\n%s", code, stderr)
	}
}

func TestValidateJSON(t *testing.T) {
	// Flags may follow the file, as users type them.
	code, stdout, _ := runCLI(t, "validate", "../../spec/testdata/bad/range-overlap.hcl", "-json")
	if code != exitError {
		t.Errorf("exit %d; want 1", code)
	}
	var res struct {
		Valid       bool `json:"valid"`
		ErrorCount  int  `json:"error_count"`
		Diagnostics []struct {
			Severity, Summary, Detail string
			Range                     struct {
				Filename string
				Start    struct{ Line, Column int }
				End      struct{ Line, Column int }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if res.Valid || res.ErrorCount != 1 || len(res.Diagnostics) != 1 {
		t.Fatalf("%+v", res)
	}
	d := res.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Overlapping port ranges" || d.Range.Start.Line != 7 || !strings.HasSuffix(d.Range.Filename, "range-overlap.hcl") {
		t.Errorf("%+v", d)
	}

	code, stdout, _ = runCLI(t, "validate", "-json", "../../lucid-rdp.hcl")
	if code != exitOK || !strings.Contains(stdout, `"valid": true`) || !strings.Contains(stdout, `"diagnostics": []`) {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

// TestValidateMissingFile: a spec that is not there is named, with what to do.
func TestValidateMissingFile(t *testing.T) {
	code, _, stderr := runCLI(t, "validate", filepath.Join(t.TempDir(), "nope.hcl"))
	if code != exitError || !strings.Contains(stderr, "no spec file at") || !strings.Contains(stderr, "-config FILE") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

const messy = "server \"a\" {\nport=13500\n    driver =   \"process\"\n}\n"
const tidy = "server \"a\" {\n  port   = 13500\n  driver = \"process\"\n}\n"

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lucid-rdp.hcl")
	if err := os.WriteFile(file, []byte(messy), 0o640); err != nil {
		t.Fatal(err)
	}

	// -check changes nothing, lists the file and exits 3.
	code, stdout, _ := runCLI(t, "fmt", "-check", file)
	if code != exitFmt || strings.TrimSpace(stdout) != file {
		t.Errorf("fmt -check: exit %d, stdout %q", code, stdout)
	}
	if got, _ := os.ReadFile(file); string(got) != messy {
		t.Error("fmt -check changed the file")
	}

	// -check -diff prints a unified diff.
	code, stdout, _ = runCLI(t, "fmt", "-check", "-diff", file)
	if code != exitFmt || !strings.Contains(stdout, "-port=13500\n") || !strings.Contains(stdout, "+  port   = 13500\n") || !strings.Contains(stdout, "@@ -1,4 +1,4 @@") {
		t.Errorf("fmt -diff: exit %d\n%s", code, stdout)
	}

	// Plain fmt rewrites in place, keeping the file's mode.
	if code, _, stderr := runCLI(t, "fmt", file); code != exitOK {
		t.Fatalf("fmt: exit %d %s", code, stderr)
	}
	got, _ := os.ReadFile(file)
	if string(got) != tidy {
		t.Errorf("fmt wrote\n%s\nwant\n%s", got, tidy)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v; want 0640", st.Mode().Perm())
	}

	// Now clean: -check exits 0 and prints nothing; a folder argument works.
	if code, stdout, _ := runCLI(t, "fmt", "-check", dir); code != exitOK || stdout != "" {
		t.Errorf("fmt -check on clean folder: exit %d %q", code, stdout)
	}
}

func TestFmtSyntaxError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "broken.hcl")
	src := "server \"a\" {\n  port = \n"
	_ = os.WriteFile(file, []byte(src), 0o644)
	code, _, stderr := runCLI(t, "fmt", file)
	if code != exitError || !strings.Contains(stderr, "broken.hcl:") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(file); string(got) != src {
		t.Error("fmt changed a file it could not parse")
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	if code != exitOK || !strings.Contains(stdout, "lucid-rdp") || !strings.Contains(stdout, runtime.Version()) || !strings.Contains(stdout, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("exit %d %q", code, stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, stderr := runCLI(t, "frobnicate"); code != exitError || !strings.Contains(stderr, "unknown command") {
		t.Errorf("exit %d %q", code, stderr)
	}
}
