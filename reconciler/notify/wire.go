package notify

import "time"

// postableAlert is one alert as Alertmanager's API v2 takes it
// (POST /api/v2/alerts).
type postableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

// postableAlerts turns alerts into Alertmanager's form at now: a firing
// alert ends at now+4*ResendEvery unless sent again, a resolved one when it
// resolved.
func (n *Notifier) postableAlerts(alerts []Alert, now time.Time) []postableAlert {
	out := make([]postableAlert, 0, len(alerts))
	for _, a := range alerts {
		labels := map[string]string{"alertname": a.Name, "metric": a.Metric}
		set := func(name, v string) {
			if v != "" {
				labels[name] = v
			}
		}
		set("host", n.cfg.Host)
		set("server", a.Server)
		set("range", a.Range)
		set("severity", a.Severity)
		p := postableAlert{
			Labels:      labels,
			Annotations: map[string]string{"summary": summary(a)},
			StartsAt:    a.StartsAt.UTC(),
			EndsAt:      a.EndsAt.UTC(),
		}
		if a.State == Firing {
			p.EndsAt = now.Add(4 * n.cfg.ResendEvery).UTC()
		}
		out = append(out, p)
	}
	return out
}

// WebhookBody is what a webhook notifier posts, as JSON.
type WebhookBody struct {
	// Version is the body's format: "1".
	Version string `json:"version"`
	// Notifier is the notify block's name; Host the agent's host.
	Notifier string `json:"notifier"`
	Host     string `json:"host"`
	// Alerts are the resolved alerts not delivered yet, then every firing one.
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one alert series in a WebhookBody.
type WebhookAlert struct {
	// Status is "firing" or "resolved".
	Status string `json:"status"`
	// Alert is the rule's name.
	Alert string `json:"alert"`
	// Server is set for server.* metrics, Range for port_range.free.
	Server string `json:"server,omitempty"`
	Range  string `json:"range,omitempty"`
	// Metric is the rule's metric, such as "host.memory_percent".
	Metric string `json:"metric"`
	// Op is "above" or "below": Value, the last sample that met the
	// condition, is above or below Threshold.
	Op        string  `json:"op"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Action is the rule's action: notify, drain, restart, evict_idle or
	// reject_new.
	Action string `json:"action"`
	// Severity is the rule's severity, when it has one.
	Severity string `json:"severity,omitempty"`
	// Summary says all of it in one line for people.
	Summary string `json:"summary"`
	// StartsAt is when the series started firing, EndsAt when it resolved
	// (absent while firing); RFC 3339.
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
}

// WebhookVersion is the WebhookBody format this package posts.
const WebhookVersion = "1"

func (n *Notifier) webhookBody(alerts []Alert) WebhookBody {
	b := WebhookBody{Version: WebhookVersion, Notifier: n.cfg.Name, Host: n.cfg.Host, Alerts: make([]WebhookAlert, 0, len(alerts))}
	for _, a := range alerts {
		b.Alerts = append(b.Alerts, WebhookAlert{
			Status:    a.State,
			Alert:     a.Name,
			Server:    a.Server,
			Range:     a.Range,
			Metric:    a.Metric,
			Op:        a.Op,
			Value:     a.Value,
			Threshold: a.Threshold,
			Action:    a.Action,
			Severity:  a.Severity,
			Summary:   summary(a),
			StartsAt:  a.StartsAt.UTC(),
			EndsAt:    a.EndsAt.UTC(),
		})
	}
	return b
}
