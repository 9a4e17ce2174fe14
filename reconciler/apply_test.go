package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/fake"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

func mustSpec(t *testing.T, src string) *spec.Spec {
	t.Helper()
	s, diags := spec.Parse("lucid-rdp.hcl", []byte("agent {\n  state_dir = \""+t.TempDir()+"\"\n}\n"+src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return s
}

// quietHost is a socket table with nothing on it, so that these tests do not
// depend on what else listens on the machine.
func quietHost() (*socktab.Table, error) { return &socktab.Table{}, nil }

func reconcilerWith(ds ...*fake.Driver) *Reconciler {
	m := map[string]drivers.Driver{}
	for _, d := range ds {
		m[d.Name()] = d
	}
	return &Reconciler{Drivers: m, Now: func() time.Time { return planNow }, ReadSockets: quietHost}
}

const threeDesks = `
port_range "desks" {
  from = 13389
  to   = 13399
}
server "desk" {
  port_range = "desks"
  count      = 3
}
`

// TestReconcileConverges: one pass converges, the next finds nothing to do.
func TestReconcileConverges(t *testing.T) {
	s := mustSpec(t, threeDesks)
	d := fake.New("process")
	r := reconcilerWith(d)
	if _, err := r.Reconcile(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if len(d.Instances) != 3 {
		t.Fatalf("%d instances; want 3", len(d.Instances))
	}
	p, _, err := r.Plan(context.Background(), s)
	if err != nil || !p.Empty() {
		t.Fatalf("second plan not empty: %+v %v", p.Changes, err)
	}
	st, _ := LoadState(s.Agent.StateDir)
	if st.Ports["desk-1"] != 13389 || st.Ports["desk-3"] != 13391 {
		t.Errorf("persisted ports = %v", st.Ports)
	}
}

// TestOneFailureDoesNotBlockOthers: a server that fails to start is reported
// by name, and the others still converge.
func TestOneFailureDoesNotBlockOthers(t *testing.T) {
	s := mustSpec(t, threeDesks)
	d := fake.New("process")
	d.StartErr["desk-2"] = errors.New("boom")
	r := reconcilerWith(d)
	_, err := r.Reconcile(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "desk-2") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v; want one naming desk-2 and its cause", err)
	}
	if _, ok := d.Instances["desk-1"]; !ok {
		t.Error("desk-1 not started")
	}
	if _, ok := d.Instances["desk-3"]; !ok {
		t.Error("desk-3 not started")
	}
	// The failed server keeps its port for the next try.
	st, _ := LoadState(s.Agent.StateDir)
	if st.Ports["desk-2"] != 13390 {
		t.Errorf("desk-2's port not kept: %v", st.Ports)
	}
}

// TestStopsBeforeStarts: a port given up by one server is free before another
// takes it.
func TestStopsBeforeStarts(t *testing.T) {
	d := fake.New("process")
	r := reconcilerWith(d)
	s1 := mustSpec(t, "server \"a\" {\n  port = 13500\n}\n")
	if _, err := r.Reconcile(context.Background(), s1); err != nil {
		t.Fatal(err)
	}
	d.Calls = nil
	s2 := mustSpec(t, "server \"b\" {\n  port = 13500\n}\n")
	s2.Agent.StateDir = s1.Agent.StateDir
	if _, err := r.Reconcile(context.Background(), s2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Calls, []string{"stop a forget=true", "start b"}) {
		t.Errorf("calls = %v", d.Calls)
	}
}

// TestDriverDownNeverDestroys: servers of an unreachable driver are neither
// created nor destroyed.
func TestDriverDownNeverDestroys(t *testing.T) {
	proc, dock := fake.New("process"), fake.New("docker")
	r := reconcilerWith(proc, dock)
	s := mustSpec(t, "server \"a\" {\n  port = 13500\n}\nserver \"k\" {\n  driver = \"docker\"\n  image = \"x\"\n  port = 13501\n}\n")
	if _, err := r.Reconcile(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	dock.ListErr = errors.New("engine down")
	empty := mustSpec(t, "")
	empty.Agent.StateDir = s.Agent.StateDir
	_, _ = r.Reconcile(context.Background(), empty)
	if _, ok := dock.Instances["k"]; !ok {
		t.Error("a docker server was destroyed while the engine was unreachable")
	}
	if _, ok := proc.Instances["a"]; ok {
		t.Error("process server a was not destroyed")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("lucid-rdp pid %d holds", os.Getpid())) {
		t.Errorf("second lock: %v; want it refused, naming the holder", err)
	}
	unlock()
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestLessName(t *testing.T) {
	names := []string{"desk-10", "desk-2", "alice", "desk-1", "desk"}
	slices.SortFunc(names, func(a, b string) int {
		if lessName(a, b) {
			return -1
		}
		if lessName(b, a) {
			return 1
		}
		return 0
	})
	if strings.Join(names, " ") != "alice desk desk-1 desk-2 desk-10" {
		t.Errorf("%v", names)
	}
}

// TestOneSocketReadPerPass: observation reads the socket table once per pass,
// however many servers there are.
func TestOneSocketReadPerPass(t *testing.T) {
	src := "port_range \"r\" {\n  from = 20000\n  to   = 20099\n}\nserver \"s\" {\n  port_range = \"r\"\n  count = 50\n}\n"
	s := mustSpec(t, src)
	reads := 0
	r := reconcilerWith(fake.New("process"))
	r.ReadSockets = func() (*socktab.Table, error) { reads++; return &socktab.Table{}, nil }
	if _, err := r.Reconcile(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Plan(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("%d socket-table reads for 2 passes over 50 servers; want 2", reads)
	}
}

// TestDrainWithoutDrainerKeepsServer: a driver that cannot stop only its
// listener (docker) is left running while it drains, so no session ends.
func TestDrainWithoutDrainerKeepsServer(t *testing.T) {
	d := fake.New("docker")
	r := reconcilerWith(d)
	s := mustSpec(t, "server \"k\" {\n  driver = \"docker\"\n  image = \"x\"\n  port = 13500\n}\n")
	if _, err := r.Reconcile(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	d.SessionCounts["k"] = 2
	empty := mustSpec(t, "")
	empty.Agent.StateDir = s.Agent.StateDir
	d.Calls = nil
	if _, err := r.Reconcile(context.Background(), empty); err != nil {
		t.Fatal(err)
	}
	if len(d.Calls) != 0 || d.Instances["k"].State != drivers.StateRunning {
		t.Fatalf("calls %v, state %s: a drain without Drainer must leave the server running", d.Calls, d.Instances["k"].State)
	}
	p, _, _ := r.Plan(context.Background(), empty)
	if !p.Empty() || len(p.Notes) != 1 || !strings.Contains(p.Notes[0].Note, "draining") {
		t.Errorf("plan while draining: %+v notes %+v", p.Changes, p.Notes)
	}
	d.SessionCounts["k"] = 0
	if _, err := r.Reconcile(context.Background(), empty); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Instances["k"]; ok {
		t.Error("not destroyed once its sessions ended")
	}
}

// TestCorruptStateIsRecovered: an unreadable state.json does not stop plan or
// apply: the plan says so, and apply keeps the bad file aside and writes a
// good one.
func TestCorruptStateIsRecovered(t *testing.T) {
	s := mustSpec(t, "server \"a\" {\n  port = 13500\n}\n")
	path := filepath.Join(s.Agent.StateDir, "state.json")
	if err := os.WriteFile(path, []byte("{\"ports\": {\"a\": 13"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := reconcilerWith(fake.New("process"))
	p, _, err := r.Plan(context.Background(), s)
	if err != nil || len(p.Notes) != 1 || !strings.Contains(p.Notes[0].Note, "unreadable state") || len(p.Changes) != 1 {
		t.Fatalf("plan over a corrupt state: %+v, %v", p, err)
	}
	if _, err := r.Apply(context.Background(), s, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("the bad state was not kept aside: %v", err)
	}
	if st, err := LoadState(s.Agent.StateDir); err != nil || st.Ports["a"] != 13500 {
		t.Errorf("state after apply: %+v, %v", st, err)
	}
}
