package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// TestReloadFolderFleet: the agent reads a spec folder as one spec and
// resolves a fleet spec for this host; an edit of another host's part leaves
// its spec hash as it was; a fleet that no longer declares this host is
// refused and the last good spec stays, never read as zero servers.
func TestReloadFolderFleet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts.hcl", "host \"pi-1\" {\n}\n\nhost \"pi-2\" {\n}\n")
	write("servers.hcl", "server \"a\" {\n  port = 13500\n}\n\nserver \"b\" {\n  hosts = [\"pi-2\"]\n  port  = 13501\n}\n")
	write(".#servers.hcl", "an editor's lock file, not HCL")
	t.Setenv(spec.EnvHost, "pi-1")
	a := &Agent{cfg: Config{SpecPath: dir}, log: hclog.NewNullLogger(), m: newMetrics("test")}
	if ok, err := a.reload(true); !ok || err != nil {
		t.Fatalf("first load: %v, %v", ok, err)
	}
	s := a.current()
	if s.Host != "pi-1" || len(s.Servers) != 1 || s.Servers[0].Name != "a" {
		t.Fatalf("host %q, servers %v; want pi-1's server a", s.Host, s.Servers)
	}
	hash := reconciler.SpecHash(s)
	if ok, err := a.reload(false); ok || err != nil {
		t.Fatalf("nothing changed: %v, %v; want no news", ok, err)
	}

	write("servers.hcl", "server \"a\" {\n  port = 13500\n}\n\nserver \"b\" {\n  hosts = [\"pi-2\"]\n  port  = 13502\n}\n")
	if _, err := a.reload(false); err != nil || reconciler.SpecHash(a.current()) != hash {
		t.Fatalf("pi-2's edit: %v; hash %s, want %s", err, reconciler.SpecHash(a.current()), hash)
	}

	write("hosts.hcl", "host \"pi-2\" {\n}\n")
	ok, err := a.reload(false)
	if ok || err == nil || !strings.Contains(err.Error(), "host pi-1 is not in the fleet spec") {
		t.Fatalf("pi-1 left out: %v, %v; want refused", ok, err)
	}
	if reconciler.SpecHash(a.current()) != hash {
		t.Fatal("the last good spec was not kept")
	}
	if len(a.current().Servers) != 1 {
		t.Fatalf("servers %v; want the last good one", a.current().Servers)
	}
	if got := watchDir(dir); got != dir {
		t.Errorf("watchDir(folder) = %s", got)
	}
	if got := watchDir(filepath.Join(dir, "hosts.hcl")); got != dir {
		t.Errorf("watchDir(file) = %s", got)
	}
}
