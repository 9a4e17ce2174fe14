package agent

import (
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
)

// Status is the body of GET /v1/status.
type Status struct {
	Spec    SpecStatus     `json:"spec"`
	Ready   bool           `json:"ready"`
	Servers []ServerStatus `json:"servers"`
	Alerts  []AlertStatus  `json:"alerts"`
	// LastReconcile is when the last pass ended.
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
	// Problems are servers the last plan could not converge, and why.
	Problems map[string]string `json:"problems,omitempty"`
}

// SpecStatus says which spec is in force.
type SpecStatus struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
	// Host is this host's name in a fleet spec; "" for a one-host spec.
	Host string `json:"host,omitempty"`
	// Revision is the Git commit of the spec in force, when its folder is a
	// checkout (a host that pulls its spec shows which commit it runs).
	Revision string    `json:"revision,omitempty"`
	LoadedAt time.Time `json:"loaded_at"`
	// Error is why the latest edit was not loaded; the spec above stays in force.
	Error string `json:"error,omitempty"`
	// ErrorRevision is the commit of the refused edit, when it is in a checkout.
	ErrorRevision string `json:"error_revision,omitempty"`
}

// ServerStatus is one server as the agent last saw it.
type ServerStatus struct {
	Name   string `json:"name"`
	Driver string `json:"driver"`
	// State is up, down, draining, backoff or pending.
	State       string `json:"state"`
	Port        int    `json:"port,omitempty"`
	ID          string `json:"id,omitempty"`
	Sessions    int    `json:"sessions"`
	MaxSessions int    `json:"max_sessions,omitempty"`
	// SessionList is every live session of the server: user, display, client.
	SessionList []drivers.Session `json:"session_list,omitempty"`
	CPUPercent  float64           `json:"cpu_percent"`
	MemoryBytes uint64            `json:"memory_bytes"`
	Restarts    int               `json:"restarts"`
	LastError   string            `json:"last_error,omitempty"`
	// Warning is something the operator must act on, such as a server that
	// cannot have a sesman of its own here.
	Warning string `json:"warning,omitempty"`
	// RetryAt is when a server in backoff is tried again.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// AlertStatus is one alert rule as the last pass evaluated it.
type AlertStatus struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
	Action string `json:"action"`
	// State is inactive, pending or firing: the most pressing of its series.
	State string `json:"state"`
	// Since is when it became so (zero while inactive).
	Since time.Time `json:"since,omitzero"`
	// Series are its pending and firing series: one for a host metric, one
	// per server or range for the others.
	Series []alerts.Series `json:"series"`
}
