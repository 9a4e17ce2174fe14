package spec_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// compatSpec is a one-file spec whose hashes were taken with lucid-rdp as it
// was before spec folders and fleets.
const compatSpec = `agent {
  listen    = "127.0.0.1:8090"
  state_dir = "/var/lib/lucid-rdp-test"
}

port_range "desktops" {
  address = "0.0.0.0"
  from    = 13389
  to      = 13399
}

defaults {
  port_range    = "desktops"
  drain_timeout = "10m"
  env           = { LANG = "C.UTF-8" }
  sessions {
    max = 4
  }
}

server "desk" {
  count = 2
  sessions {
    idle_timeout         = "30m"
    disconnected_timeout = "10m"
  }
  security {
    layer       = "tls"
    certificate = "/etc/lucid-rdp/tls/cert.pem"
    key         = "/etc/lucid-rdp/tls/key.pem"
  }
}

server "kiosk" {
  driver  = "docker"
  image   = "lucid/xrdp:bookworm"
  port    = 13500
  network = "host"
  command = ["/start", "--kiosk"]
  resources {
    cpus   = 1.5
    memory = "2GiB"
  }
}
`

// The hashes compatSpec had before folders and fleets: the spec hash the
// agent reports and saved plans check, and each server's config hash (the
// one on its record or container label). A change here would replace every
// server of every host on upgrade.
const compatSpecHash = "sha256:35028214e958164636faec7f21355e654ac9edd01d18b47b17defddac98a81d2"

var compatServerHashes = map[string]string{
	"desk-1": "v1-fc37ce66e568d538f4a43b1f",
	"desk-2": "v1-a41989fbfe349fea90dc8e09",
	"kiosk":  "v1-3e40a3cd1e1aec510d346389",
}

// TestOneFileHashesUnchanged: a one-file spec keeps its spec hash and its
// servers' hashes; so does the same spec split into a folder of files, and a
// fleet of one host that takes every block keeps the servers' hashes.
func TestOneFileHashesUnchanged(t *testing.T) {
	t.Setenv(spec.EnvHost, "lab-1")
	check := func(what string, s *spec.Spec, wantSpecHash bool) {
		t.Helper()
		if wantSpecHash {
			if got := reconciler.SpecHash(s); got != compatSpecHash {
				t.Errorf("%s: spec hash %s; want %s", what, got, compatSpecHash)
			}
		}
		if len(s.Servers) != len(compatServerHashes) {
			t.Fatalf("%s: %d servers", what, len(s.Servers))
		}
		for i, srv := range s.Servers {
			if got := drivers.DesiredFor(srv, 13389+i).Config.Hash(); got != compatServerHashes[srv.Name] {
				t.Errorf("%s: server %s hash %s; want %s", what, srv.Name, got, compatServerHashes[srv.Name])
			}
		}
	}
	s, diags := spec.Parse("/srv/x/lucid-rdp.hcl", []byte(compatSpec))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	check("one file", s, true)

	dir := t.TempDir()
	file := filepath.Join(dir, "lucid-rdp.hcl")
	if err := os.WriteFile(file, []byte(compatSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, dir} {
		s, diags := spec.Load(path)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		check(path, s, true)
	}

	split := t.TempDir()
	head, tail, _ := strings.Cut(compatSpec, "server \"desk\"")
	for name, src := range map[string]string{"a.hcl": head, "b.hcl": "server \"desk\"" + tail} {
		if err := os.WriteFile(filepath.Join(split, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, diags = spec.Load(split)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	check("split into a folder", s, true)

	fleet := "host \"lab-1\" {\n}\n\n" + strings.Replace(compatSpec, "server \"kiosk\" {\n", "server \"kiosk\" {\n  hosts   = [\"lab-*\"]\n", 1)
	s, diags = spec.Parse("/srv/x/lucid-rdp.hcl", []byte(fleet))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	check("a fleet of one host", s, false)
}
