// Package agent is lucid-rdp's long-running mode: it keeps the host converged
// to the spec file as the file, the host and time change.
//
// One loop owns all passes, so passes never overlap and any number of triggers
// collapse into one pass. Triggers only say "look again": a change in the spec's
// folder (debounced, and skipped when the file's bytes are unchanged), SIGHUP,
// POST /v1/reload, the periodic resync, a listener exiting (seen at once through
// the driver's Notifier), and a failed server's backoff running out. Each pass
// observes, plans and applies through the reconciler.
//
// A spec that fails to load is never applied: the agent keeps the last good one
// and reports the error in logs, /v1/status and
// lucid_rdp_spec_last_reload_successful. Stopping the agent leaves every server
// and session running; a new agent adopts them.
//
// The package serves the HTTP API (/health, /ready, /metrics, /v1/...) and the status page at /. It must
// not touch servers except through the reconciler and its drivers.
package agent
