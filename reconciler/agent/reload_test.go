package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestPlanRequestsAreLimited: with both slots taken, a plan request is turned
// away at once instead of queueing work.
func TestPlanRequestsAreLimited(t *testing.T) {
	a := &Agent{planSlots: make(chan struct{}, planSlots)}
	for range planSlots {
		a.planSlots <- struct{}{}
	}
	w := httptest.NewRecorder()
	a.postPlan(w, httptest.NewRequest(http.MethodPost, "/v1/plan", strings.NewReader("")))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d; want 429", w.Code)
	}
}

// TestReloadSeesUsersFileFix: a spec refused for a users file that cannot be
// read is taken once the file is put right, though the spec's bytes stay the
// same; the same refusal is not reported again.
func TestReloadSeesUsersFileFix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lucid-rdp.hcl")
	one := "server \"a\" {\n  port = 13500\n}\n"
	two := one + "server \"b\" {\n  driver     = \"docker\"\n  image      = \"lucid/xrdp:bookworm\"\n  port       = 13501\n  users_file = \"b.users\"\n}\n"
	if err := os.WriteFile(path, []byte(one), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Agent{cfg: Config{SpecPath: path}, log: hclog.NewNullLogger(), m: newMetrics("test")}
	if ok, err := a.reload(true); !ok || err != nil {
		t.Fatalf("first load: %v, %v", ok, err)
	}
	if err := os.WriteFile(path, []byte(two), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.reload(false); ok || err == nil || !strings.Contains(err.Error(), "b.users") {
		t.Fatalf("with b.users missing: %v, %v; want refused, naming it", ok, err)
	}
	if ok, err := a.reload(false); ok || err != nil {
		t.Fatalf("nothing changed: %v, %v; want no news", ok, err)
	}
	hash := "$6$salt$" + strings.Repeat("x", 86)
	if err := os.WriteFile(filepath.Join(dir, "b.users"), []byte("ann:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.reload(false); !ok || err != nil || len(a.current().Servers) != 2 {
		t.Fatalf("after b.users was made: %v, %v; want the spec of two servers in force", ok, err)
	}
	if ok, err := a.reload(false); ok || err != nil {
		t.Fatalf("nothing changed since: %v, %v; want no news", ok, err)
	}
}
