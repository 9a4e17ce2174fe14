// Package notify sends the agent's alerts to the spec's notifiers: an
// Alertmanager (API v2) or a webhook. One Notifier serves one `notify` block.
//
// The agent hands a Notifier the alerts of each evaluation with Update, which
// never blocks; one worker (Run) sends them. It sends at once when the set
// changes (a series starts firing or resolves; a new value alone is not a
// change), sends everything firing again every ResendEvery, and retries a
// failed send with backoff (1s doubling to 1m). It never has two requests in
// flight. A resolved alert is kept until it has been delivered; firing
// alerts are not queued, because each send carries all of them as they are
// now. In a request the resolved alerts come first, then the firing ones, so
// a series that resolved and fired again is left firing.
//
// It owns the wire formats and the delivery, nothing else: it does not
// evaluate rules (package alerts does) or take actions, and it reads nothing
// from the host.
//
// # Alertmanager
//
// Each send is a POST of {URL}/api/v2/alerts with a JSON array of alerts.
// Labels: alertname (the rule's name), host (Config.Host, when set), server
// (for server.* metrics), range (for port_range.free), metric, and severity
// when the rule sets one. One annotation, summary, such as
//
//	server.cpu_percent on server desk-1 is 97.5, above 90 (action drain)
//
// startsAt is when the series started firing. A firing alert's endsAt is
// the send time plus 4*ResendEvery: Alertmanager resolves an alert once its
// endsAt has passed, so if the agent stops (or stops sending) its alerts
// resolve on their own, and while it runs each resend pushes endsAt on. A
// resolved alert's endsAt is when it resolved. Alertmanager's API v2 does
// not list resolved alerts: GET /api/v2/alerts leaves out every alert whose
// endsAt has passed, whatever the filters (Alertmanager 0.25); its metric
// alertmanager_alerts_received_total{status="resolved"} counts them.
//
// # Webhook
//
// Each send is a POST of the URL with Content-Type application/json and a
// WebhookBody, such as
//
//	{
//	  "version": "1",
//	  "notifier": "ops",
//	  "host": "rdp-1",
//	  "alerts": [
//	    {
//	      "status": "resolved",
//	      "alert": "host_memory",
//	      "metric": "host.memory_percent",
//	      "op": "above",
//	      "value": 93.1,
//	      "threshold": 90,
//	      "action": "evict_idle",
//	      "summary": "host.memory_percent is 93.1, above 90 (action evict_idle)",
//	      "starts_at": "2026-05-04T10:15:00Z",
//	      "ends_at": "2026-05-04T10:21:30Z"
//	    },
//	    {
//	      "status": "firing",
//	      "alert": "desk_cpu",
//	      "server": "desk-1",
//	      "metric": "server.cpu_percent",
//	      "op": "above",
//	      "value": 97.5,
//	      "threshold": 90,
//	      "action": "drain",
//	      "severity": "page",
//	      "summary": "server.cpu_percent on server desk-1 is 97.5, above 90 (action drain)",
//	      "starts_at": "2026-05-04T10:18:00Z"
//	    }
//	  ]
//	}
//
// Every firing alert is in every request, so a receiver that wants only
// news compares with what it has seen (by alert, server and range). Any 2xx
// answer is success; anything else, or no answer within Timeout, is a
// failure and the request is tried again.
package notify
