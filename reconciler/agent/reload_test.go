package agent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
