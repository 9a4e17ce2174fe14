package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"

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
	var fleet []byte // the fleet example, as one file
	names, _ := SpecFiles("testdata/fleet")
	for _, name := range names {
		if src, err := os.ReadFile(name); err == nil {
			fleet = append(fleet, src...)
		}
	}
	f.Add(fleet)
	f.Fuzz(func(t *testing.T, src []byte) {
		s, diags := Parse("fuzz.hcl", src)
		if (s == nil) != diags.HasErrors() {
			t.Fatalf("spec %v with errors=%v", s != nil, diags.HasErrors())
		}
		if _, fdiags := Format("fuzz.hcl", src); fdiags.HasErrors() && s != nil {
			t.Fatalf("a valid spec does not format: %v", fdiags)
		}
		// Every host of a fleet, as validate reads them: a host's spec is
		// nil exactly when an error is about it (or about every host).
		fl, fdiags := ParseFleet("fuzz.hcl", []File{{Name: "fuzz.hcl", Src: src}})
		if (fl == nil) != fdiags.HasErrors() {
			t.Fatalf("fleet %v with errors=%v", fl != nil, fdiags.HasErrors())
		}
		if fl == nil {
			return
		}
		specs, diags := fl.ForAll()
		for i, s := range specs {
			bad := false
			for _, d := range diags {
				hosts := DiagnosticHosts(d)
				bad = bad || d.Severity == hcl.DiagError && (!fl.IsFleet() || slices.Contains(hosts, fl.Hosts[i].Name))
			}
			if (s == nil) != bad {
				t.Fatalf("host %d: spec %v with errors=%v: %v", i, s != nil, bad, diags)
			}
		}
	})
}
