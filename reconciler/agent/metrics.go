package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// rejectReasons are the reason label values of sessions_rejected_total
// (DESIGN.md, plus evict_idle for sessions an alert ended).
var rejectReasons = []string{"max", "idle", "disconnected", "drain", "reject_new", alerts.ActionEvictIdle}

// metrics are the agent's Prometheus series (names fixed by DESIGN.md).
type metrics struct {
	reg *prometheus.Registry

	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
	reconcileDur    prometheus.Histogram
	reconcileTotal  *prometheus.CounterVec
	servers         *prometheus.GaugeVec
	serverUp        *prometheus.GaugeVec
	restarts        *prometheus.CounterVec
	serverErrors    *prometheus.CounterVec
	sessions        *prometheus.GaugeVec
	rejected        *prometheus.CounterVec
	leftovers       *prometheus.CounterVec
	serverCPU       *prometheus.GaugeVec
	serverMem       *prometheus.GaugeVec
	hostCPU         prometheus.Gauge
	hostMem         prometheus.Gauge
	rangeFree       *prometheus.GaugeVec
	alertFiring     *prometheus.GaugeVec
	alertActions    *prometheus.CounterVec
	notifications   *prometheus.CounterVec
	hostDisk        prometheus.Gauge
	hostLoad        prometheus.Gauge
	specInfo        *prometheus.GaugeVec
	revisionSet     bool // specInfo has its one series
}

func newMetrics(version string) *metrics {
	const ns = "lucid_rdp"
	m := &metrics{reg: prometheus.NewRegistry()}
	g := func(name, help string) prometheus.Gauge {
		x := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
		m.reg.MustRegister(x)
		return x
	}
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		x := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(x)
		return x
	}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		x := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(x)
		return x
	}
	m.reloadOK = g("spec_last_reload_successful", "1 when the last load of the spec succeeded, 0 when it failed (the last good spec stays in force).")
	m.specInfo = gv("spec_info", "Always 1; revision is the Git commit of the spec in force (empty when its folder is not a checkout).", "revision")
	m.reloadTimestamp = g("spec_last_reload_success_timestamp_seconds", "When the spec was last loaded successfully.")
	m.reconcileDur = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "reconcile_duration_seconds",
		Help: "Time of one observe-plan-apply pass.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}})
	m.reg.MustRegister(m.reconcileDur)
	m.reconcileTotal = cv("reconcile_total", "Reconcile passes by result (success, error).", "result")
	m.servers = gv("servers", "Servers by state.", "state")
	m.serverUp = gv("server_up", "1 when the server's listener runs and answers RDP.", "server", "driver")
	m.restarts = cv("server_restarts_total", "Times the agent started a server again after its listener went away.", "server")
	m.serverErrors = cv("server_errors_total", "Failed changes per server.", "server")
	m.sessions = gv("sessions", "Live sessions per server.", "server")
	m.rejected = cv("sessions_rejected_total", "Connections refused by session policy.", "server", "reason")
	m.leftovers = cv("leftovers_cleaned_total", "Processes of a server that served nobody and were ended: kind connection (an xrdp connection process whose client was gone), session (a disconnected session no sesman knew any more).", "server", "kind")
	m.serverCPU = gv("server_cpu_percent", "CPU use of the server's processes, percent of one core.", "server")
	m.serverMem = gv("server_memory_bytes", "Resident memory of the server's processes.", "server")
	m.hostCPU = g("host_cpu_percent", "Whole-host CPU use, percent.")
	m.hostMem = g("host_memory_percent", "Whole-host memory use, percent.")
	m.rangeFree = gv("port_range_free", "Ports of a range not given to any server.", "range")
	m.alertFiring = gv("alert_firing", "1 while an alert fires.", "alert")
	m.alertActions = cv("alert_actions_total", "Actions taken by alerts: notify (a series began firing), drain and reject_new (a server's settings changed for it), restart (a server restarted), evict_idle (a session ended).", "alert", "action")
	m.notifications = cv("notifications_total", "Attempts to send alerts to a notify block, by result (ok, error); errors are retried with backoff.", "notifier", "result")
	m.hostDisk = g("host_disk_percent", "Use of the filesystem that holds agent.state_dir, percent.")
	m.hostLoad = g("host_load1", "The host's 1-minute load average.")
	for _, result := range []string{"success", "error"} {
		m.reconcileTotal.WithLabelValues(result)
	}
	build := gv("build_info", "Always 1; the version label says which lucid-rdp runs.", "version")
	build.WithLabelValues(version).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// declare gives every counter series the spec can produce a zero, so a
// dashboard or a rate() sees 0 rather than no data until the first event
// (and an increase from 0 to 1 is not lost): per declared server its restarts,
// errors, rejections by reason and leftovers by kind; per alert its notify and
// its action; per notify block ok and error.
func (m *metrics) declare(s *spec.Spec) {
	for _, srv := range s.Servers {
		m.restarts.WithLabelValues(srv.Name)
		m.serverErrors.WithLabelValues(srv.Name)
		for _, reason := range rejectReasons {
			m.rejected.WithLabelValues(srv.Name, reason)
		}
		m.leftovers.WithLabelValues(srv.Name, kindConnection)
		m.leftovers.WithLabelValues(srv.Name, kindSession)
	}
	for _, al := range s.Alerts {
		m.alertActions.WithLabelValues(al.Name, alerts.ActionNotify)
		if al.Action != "" {
			m.alertActions.WithLabelValues(al.Name, al.Action)
		}
	}
	for _, n := range s.Notifiers {
		m.notifications.WithLabelValues(n.Name, "ok")
		m.notifications.WithLabelValues(n.Name, "error")
	}
}
