package reconciler

import (
	"fmt"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// benchSpec is a spec of n process servers in one port range, built from a
// parsed one-server spec (spec.MaxServers bounds what a file may declare; the
// planner is measured well past it).
func benchSpec(b *testing.B, n int) *spec.Spec {
	b.Helper()
	src := fmt.Sprintf(`
agent {
  state_dir = "/tmp/lucid-rdp-bench"
}
port_range "desks" {
  from = 20000
  to   = %d
}
server "desk" {
  driver     = "process"
  port_range = "desks"
  sessions {
    max = 2
  }
}
`, 20000+n+n/10)
	s, diags := spec.Parse("bench.hcl", []byte(src))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	one := s.Servers[0]
	s.Servers = make([]*spec.Server, n)
	for i := range s.Servers {
		srv := *one
		srv.Name = fmt.Sprintf("desk-%d", i+1)
		s.Servers[i] = &srv
	}
	return s
}

// benchObserved has every server of s running as planned, except every tenth,
// which is missing (so a tenth of the plan allocates ports), and one foreign
// listener per hundred ports.
func benchObserved(s *spec.Spec) *Observed {
	obs := &Observed{State: State{Ports: map[string]int{}}}
	for i, srv := range s.Servers {
		port := 20000 + i
		if i%100 == 50 {
			obs.Listeners = append(obs.Listeners, Listener{Address: "127.0.0.1", Port: port + len(s.Servers)})
		}
		if i%10 == 9 {
			continue
		}
		want := drivers.DesiredFor(srv, port)
		obs.Instances = append(obs.Instances, drivers.Instance{Name: srv.Name, Driver: srv.Driver, ID: fmt.Sprint(1000 + i),
			State: drivers.StateRunning, Config: want.Config, Hash: want.Config.Hash(), Settings: want.Settings})
		obs.State.Ports[srv.Name] = port
		if i%3 == 0 {
			obs.Sessions = append(obs.Sessions, drivers.Session{Server: srv.Name, State: drivers.SessionActive})
		}
	}
	// A few servers the spec no longer has, one of them draining.
	for i := range 5 {
		name := fmt.Sprintf("old-%d", i)
		obs.Instances = append(obs.Instances, drivers.Instance{Name: name, Driver: "process", State: drivers.StateRunning,
			Config: drivers.Config{Driver: "process", Address: "127.0.0.1", Port: 19000 + i}})
	}
	obs.Sessions = append(obs.Sessions, drivers.Session{Server: "old-0", State: drivers.SessionActive})
	obs.State.Draining = map[string]time.Time{"old-0": planNow.Add(-time.Minute)}
	return obs
}

// BenchmarkMakePlan: the pure planner at 100, 1,000 and 10,000 servers. The
// target (issue 9) is <= 100 ms and <= 100 MiB at 10,000.
func BenchmarkMakePlan(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			s := benchSpec(b, n)
			obs := benchObserved(s)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p := MakePlan(s, obs, planNow)
				if want := n / 10; p.Summary.Create != want {
					b.Fatalf("plan creates %d, want %d", p.Summary.Create, want)
				}
			}
		})
	}
}
