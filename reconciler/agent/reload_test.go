package agent

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// TestRefusedEditIsDescribedBriefly: an edit with thousands of errors is
// described by its first few and a count, not all of them (rendering them all
// took minutes once, under the lock /v1/status needs).
func TestRefusedEditIsDescribedBriefly(t *testing.T) {
	src := []byte(strings.Repeat("bogus = = =\n", 20000))
	_, diags := spec.Parse("big.hcl", src)
	if len(diags) <= maxDiagnostics {
		t.Fatalf("%d diagnostics; the test needs more than %d", len(diags), maxDiagnostics)
	}
	text := describeDiagnostics("big.hcl", src, diags)
	if !strings.Contains(text, "and 19980 more") || len(regexp.MustCompile(`(?m)^big\.hcl:`).FindAllString(text, -1)) != maxDiagnostics {
		t.Fatalf("described as %d bytes:\n%.400s", len(text), text)
	}
}

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
