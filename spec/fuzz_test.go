package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/internal/hostile"
)

// FuzzParse: any input yields a spec or error diagnostics, never a panic, and
// never both a spec and an error. Its seeds are the good, bad and hostile
// specs (internal/hostile adds the generated ones).
func FuzzParse(f *testing.F) {
	cases, err := hostile.Load("testdata/hostile")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add(c.Src)
	}
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, diags := Parse("fuzz.hcl", src)
		if (s == nil) != diags.HasErrors() {
			t.Fatalf("spec %v with errors=%v", s != nil, diags.HasErrors())
		}
		if _, fdiags := Format("fuzz.hcl", src); fdiags.HasErrors() && s != nil {
			t.Fatalf("a valid spec does not format: %v", fdiags)
		}
	})
}
