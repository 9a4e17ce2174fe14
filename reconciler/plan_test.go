package reconciler

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"encoding/json"

	"golang.org/x/tools/txtar"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// planNow is the clock of every golden plan.
var planNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// TestPlanGolden runs MakePlan on each testdata/*.txtar archive:
//
//	-- lucid-rdp.hcl --   the spec
//	-- live.json --       the Observed state (an instance without "hash" gets
//	                      its config's current hash, so archives stay readable)
//	-- plan --            the expected human plan (or diagnostics, for a bad spec)
//	-- plan.json --       the expected JSON plan (absent for a bad spec)
//
// go test ./reconciler -update rewrites plan and plan.json.
func TestPlanGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string][]byte{}
			for _, f := range ar.Files {
				sections[f.Name] = f.Data
			}
			var obs Observed
			if err := json.Unmarshal(sections["live.json"], &obs); err != nil {
				t.Fatalf("live.json: %v", err)
			}
			for i := range obs.Instances {
				if obs.Instances[i].Hash == "" {
					obs.Instances[i].Hash = obs.Instances[i].Config.Hash()
				}
			}
			var gotText, gotJSON []byte
			s, diags := spec.Parse("lucid-rdp.hcl", sections["lucid-rdp.hcl"])
			if diags.HasErrors() {
				// A bad spec yields diagnostics and no plan: never destroys.
				var buf bytes.Buffer
				_ = spec.WriteDiagnostics(&buf, diags, map[string][]byte{"lucid-rdp.hcl": sections["lucid-rdp.hcl"]}, 100, false)
				gotText = buf.Bytes()
			} else {
				p := MakePlan(s, &obs, planNow)
				var buf bytes.Buffer
				p.WriteText(&buf, false)
				gotText = buf.Bytes()
				gotJSON, _ = p.JSON()
				gotJSON = append(gotJSON, '\n')
			}
			if *update {
				var files []txtar.File
				for _, f := range ar.Files {
					if f.Name != "plan" && f.Name != "plan.json" {
						files = append(files, f)
					}
				}
				files = append(files, txtar.File{Name: "plan", Data: gotText})
				if gotJSON != nil {
					files = append(files, txtar.File{Name: "plan.json", Data: gotJSON})
				}
				ar.Files = files
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(gotText, sections["plan"]) {
				t.Errorf("plan differs; got:\n%s\nwant:\n%s", gotText, sections["plan"])
			}
			if !bytes.Equal(gotJSON, sections["plan.json"]) {
				t.Errorf("plan.json differs; got:\n%s", gotJSON)
			}
		})
	}
}

// TestUsersFileContentsForceReplace: the same users_file with other contents
// is a restart-relevant change, named for people without showing the file.
func TestUsersFileContentsForceReplace(t *testing.T) {
	a := drivers.Config{Driver: "docker", UsersFile: "/etc/lucid-rdp/kiosk.users", UsersHash: "aaaaaaaaaaaaaaaaaaaa"}
	b := a
	b.UsersHash = "bbbbbbbbbbbbbbbbbbbb"
	d := configDiffs(a, b)
	if len(d) != 1 || d[0].Field != "users_file" || !d[0].ForcesReplacement || d[0].Before != "(contents aaaaaaaaaaaa)" {
		t.Fatalf("diffs = %+v", d)
	}
	if d := configDiffs(a, a); len(d) != 0 {
		t.Fatalf("same contents: diffs = %+v", d)
	}
}

// TestTamperedSavedPlanRefused: apply PLAN carries out a plan made afresh,
// and only when the file asks for the same changes; a change added by hand
// (for a path, here) is refused.
func TestTamperedSavedPlanRefused(t *testing.T) {
	s, diags := spec.Parse("t.hcl", []byte("server \"a\" {\n  port = 13500\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	obs := &Observed{}
	now := time.Now()
	p := MakePlan(s, obs, now)
	sp := &SavedPlan{Fingerprint: obs.Fingerprint(), Plan: p}
	if fresh, err := sp.CheckSaved(s, obs, now); err != nil || len(fresh.Changes) != 1 {
		t.Fatalf("untouched plan: %v, %v", fresh, err)
	}
	tampered := *p
	tampered.Changes = append(append([]Change{}, p.Changes...), Change{Server: "../../victim", Driver: "process", Action: Delete})
	sp.Plan = &tampered
	if _, err := sp.CheckSaved(s, obs, now); !errors.Is(err, ErrStalePlan) {
		t.Fatalf("tampered plan: %v; want it refused", err)
	}
}

// TestSavedPlanEndsNoUnshownSession: a saved plan that ends a removed
// server's sessions once its drain_timeout has passed is refused when another
// session has started there since: it would end one the plan did not show.
func TestSavedPlanEndsNoUnshownSession(t *testing.T) {
	s, diags := spec.Parse("t.hcl", []byte(""))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Now()
	in := drivers.Instance{Name: "k", Driver: "process", ID: "4100", State: drivers.StateRunning,
		Config: drivers.Config{Driver: "process", Address: "127.0.0.1", Port: 13500}, Settings: drivers.Settings{DrainTimeout: drivers.Duration(time.Minute)}}
	ann := drivers.Session{Server: "k", User: "ann", State: drivers.SessionActive, XPID: 4242, XStartTime: 1100}
	bob := drivers.Session{Server: "k", User: "bob", State: drivers.SessionActive, XPID: 4343, XStartTime: 1200}
	obs := &Observed{Instances: []drivers.Instance{in}, Sessions: []drivers.Session{ann},
		State: State{Draining: map[string]time.Time{"k": now.Add(-time.Hour)}}}
	p := MakePlan(s, obs, now)
	if len(p.Changes) != 1 || len(p.Changes[0].End) != 1 {
		t.Fatalf("plan: %+v; want k destroyed, ending ann's session", p.Changes)
	}
	sp := &SavedPlan{Fingerprint: obs.Fingerprint(), Plan: p}
	obs.Sessions = append(obs.Sessions, bob)
	if _, err := sp.CheckSaved(s, obs, now); !errors.Is(err, ErrStalePlan) {
		t.Fatalf("with bob's session new since the plan: %v; want the plan refused", err)
	}
}
