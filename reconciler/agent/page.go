package agent

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The status page (GET /): the agent's status for people, rendered on the
// server so the first paint has the data and works without JavaScript, then
// refreshed in place every 2 s by the page's inline script from v1/status.
// page.html holds the markup, the style and the script; nothing is loaded
// from anywhere else, and the Content-Security-Policy allows only the page's
// own style and script (by hash), fetches from the agent and a data: icon.
//
// The script mirrors the view below (stateKind, ago, span, sizeText...): a
// change to what a row shows is made in both.

//go:embed page.html
var pageHTML string

var (
	pageTmpl = template.Must(template.New("page.html").Parse(pageHTML))
	// pageCSP is computed once, from the page as it renders: html/template
	// drops comments inside <style> and <script>, so the hashes must be of
	// its output, not of page.html.
	pageCSP = pagePolicy()
)

// pagePolicy renders the page once and returns the Content-Security-Policy
// that allows its one style and its one script and nothing else.
func pagePolicy() string {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pageView{}); err != nil {
		panic(fmt.Sprintf("agent: status page: %v", err))
	}
	out := buf.String()
	return "default-src 'none'; " +
		"style-src " + inlineHash(out, "<style>", "</style>") + "; " +
		"script-src " + inlineHash(out, "<script>", "</script>") + "; " +
		"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inlineHash returns the CSP source ('sha256-...') of the one element of page
// that opens with open and ends with end. The page must hold exactly one.
func inlineHash(page, open, end string) string {
	if strings.Count(page, open) != 1 || strings.Count(page, end) != 1 {
		panic(fmt.Sprintf("agent: status page: want exactly one %s element", open))
	}
	_, rest, _ := strings.Cut(page, open)
	body, _, _ := strings.Cut(rest, end)
	sum := sha256.Sum256([]byte(body))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// servePage answers GET / with the status page.
func (a *Agent) servePage(w http.ResponseWriter, r *http.Request) {
	st := a.Status()
	host := st.Spec.Host // the host of a fleet spec it runs as
	if host == "" {
		host, _ = os.Hostname()
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, newPageView(st, host, time.Now())); err != nil {
		a.log.Error("status page", "error", err)
		http.Error(w, "the status page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// pageView is what page.html renders: Status with every figure already in
// the words the page shows.
type pageView struct {
	// Host is the host's name in the fleet spec, else the machine's; Now
	// when the page was rendered (RFC 3339).
	Host string
	Now  string
	// Attention: something is not as the spec wants (marks the title).
	Attention     bool
	Ready         bool
	LastReconcile stamp
	Summary       string
	Spec          specView
	Problems      []problemRow
	Servers       []serverRow
	Sessions      []sessionRow
	Alerts        []alertRow
}

// stamp is a time as the page shows it: relative (Text), with the absolute
// time in a title. ISO is empty when there is no time; Text then says so.
type stamp struct {
	ISO, Title, Text string
}

type specView struct {
	Path, Hash, Error       string
	Revision, ErrorRevision string
	LoadedAt                stamp
}

type problemRow struct {
	Server, Error string
}

type serverRow struct {
	Name, ID, Driver string
	// State is the agent's word; Kind its colour (ok, warn, bad, muted, none).
	State, Kind                           string
	Port, Sessions, CPU, Memory, Restarts string
	Full                                  bool
	Error, Warning                        string
	RetryAt                               stamp
}

type sessionRow struct {
	Server, User, Display, State, Kind, Client string
	Orphan                                     bool
	Started, Connected                         stamp
	Idle, IdleTitle                            string
}

type alertRow struct {
	Name, Metric, Action, State, Kind string
	Since                             stamp
	Series                            []seriesRow
}

type seriesRow struct {
	Subject, State, Kind, Value string
	Since                       stamp
}

// newPageView turns st into the page's words, with times relative to now.
func newPageView(st Status, host string, now time.Time) pageView {
	v := pageView{
		Host:          host,
		Now:           now.UTC().Format(time.RFC3339Nano),
		Ready:         st.Ready,
		LastReconcile: newStamp(st.LastReconcile, now, "never"),
		Spec: specView{Path: st.Spec.Path, Hash: st.Spec.Hash, Error: st.Spec.Error,
			Revision: st.Spec.Revision, ErrorRevision: st.Spec.ErrorRevision,
			LoadedAt: newStamp(st.Spec.LoadedAt, now, "never")},
		Summary: summary(st),
	}
	v.Attention = attention(st)
	names := make([]string, 0, len(st.Problems))
	for name := range st.Problems {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v.Problems = append(v.Problems, problemRow{Server: name, Error: st.Problems[name]})
	}
	for _, s := range st.Servers {
		row := serverRow{Name: s.Name, ID: s.ID, Driver: s.Driver, State: s.State, Kind: stateKind(s.State),
			Port: "—", Sessions: strconv.Itoa(s.Sessions), CPU: fmt.Sprintf("%.1f %%", s.CPUPercent),
			Memory: sizeText(s.MemoryBytes), Restarts: strconv.Itoa(s.Restarts),
			Error: s.LastError, Warning: s.Warning}
		if s.Port != 0 {
			row.Port = strconv.Itoa(s.Port)
		}
		if s.MaxSessions > 0 {
			row.Sessions += " / " + strconv.Itoa(s.MaxSessions)
			row.Full = s.Sessions >= s.MaxSessions
		}
		if !s.RetryAt.IsZero() {
			row.RetryAt = newStamp(s.RetryAt, now, "")
		}
		v.Servers = append(v.Servers, row)
		for _, ses := range s.SessionList {
			sr := sessionRow{Server: ses.Server, User: ses.User, Display: "—", State: ses.State, Kind: stateKind(ses.State),
				Client: ses.Client, Orphan: ses.Orphan,
				Started: newStamp(ses.StartedAt, now, "—"), Connected: newStamp(ses.ConnectedAt, now, "—")}
			if ses.Display != 0 {
				sr.Display = ":" + strconv.Itoa(ses.Display)
			}
			switch {
			case strings.HasPrefix(ses.IdleSource, "unknown"):
				sr.Idle, sr.IdleTitle = "unknown", ses.IdleSource
			case ses.IdleSource == "" && ses.Idle == 0:
				sr.Idle = "—"
			default:
				sr.Idle, sr.IdleTitle = span(time.Duration(ses.Idle)), ses.IdleSource
			}
			v.Sessions = append(v.Sessions, sr)
		}
	}
	for _, al := range st.Alerts {
		row := alertRow{Name: al.Name, Metric: al.Metric, Action: al.Action, State: al.State, Kind: stateKind(al.State),
			Since: newStamp(al.Since, now, "—")}
		for _, se := range al.Series {
			subject := "host"
			switch {
			case se.Server != "":
				subject = se.Server
			case se.Range != "":
				subject = "range " + se.Range
			}
			since := se.ActiveAt
			if !se.FiredAt.IsZero() {
				since = se.FiredAt
			}
			row.Series = append(row.Series, seriesRow{Subject: subject, State: se.State, Kind: stateKind(se.State),
				Value: numberText(se.Value) + " (" + se.Op + " " + numberText(se.Threshold) + ")",
				Since: newStamp(since, now, "")})
		}
		v.Alerts = append(v.Alerts, row)
	}
	return v
}

// stateKind is the colour of a state: ok, warn, bad, muted, or none for a
// word the page does not know.
func stateKind(state string) string {
	switch state {
	case "up", "active", "ready", "loaded":
		return "ok"
	case "draining", "pending", "disconnected", "not ready":
		return "warn"
	case "down", "backoff", "firing", "refused":
		return "bad"
	case "inactive", "resolved":
		return "muted"
	}
	return "none"
}

// summary is the page's one-line count of servers, sessions and alerts.
func summary(st Status) string {
	count := map[string]int{}
	var order []string
	sessions := 0
	for _, s := range st.Servers {
		if count[s.State] == 0 {
			order = append(order, s.State)
		}
		count[s.State]++
		sessions += s.Sessions
	}
	sort.SliceStable(order, func(i, j int) bool { return stateRank(order[i]) < stateRank(order[j]) })
	out := plural(len(st.Servers), "server", "servers")
	if len(order) > 0 {
		parts := make([]string, len(order))
		for i, state := range order {
			parts[i] = strconv.Itoa(count[state]) + " " + state
		}
		out += ": " + strings.Join(parts, ", ")
	}
	out += " · " + plural(sessions, "session", "sessions")
	firing, pending := 0, 0
	for _, al := range st.Alerts {
		switch al.State {
		case "firing":
			firing++
		case "pending":
			pending++
		}
	}
	out += " · " + plural(firing, "alert", "alerts") + " firing"
	if pending > 0 {
		out += ", " + strconv.Itoa(pending) + " pending"
	}
	return out
}

// stateRank orders the states of the summary: the usual first.
func stateRank(state string) int {
	for i, s := range []string{"up", "draining", "pending", "backoff", "down"} {
		if s == state {
			return i
		}
	}
	return 99
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// attention reports whether anything is not as the spec wants.
func attention(st Status) bool {
	if !st.Ready || st.Spec.Error != "" || len(st.Problems) > 0 {
		return true
	}
	for _, s := range st.Servers {
		if s.State != "up" {
			return true
		}
	}
	for _, al := range st.Alerts {
		if al.State == "firing" {
			return true
		}
	}
	return false
}

// newStamp shows t relative to now; none is the text for a zero t.
func newStamp(t, now time.Time, none string) stamp {
	if t.IsZero() {
		return stamp{Text: none}
	}
	return stamp{ISO: t.UTC().Format(time.RFC3339Nano), Title: t.UTC().Format("2006-01-02 15:04:05 UTC"), Text: ago(now.Sub(t))}
}

// ago says how long ago something was (d > 0), or how soon it will be.
// Less than a second ahead counts as now: the clocks of two passes differ.
func ago(d time.Duration) string {
	if d > -time.Second {
		return span(max(d, 0)) + " ago"
	}
	return "in " + span(-d)
}

// span is d in its largest whole unit (s, min, h, d).
func span(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + " s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + " min"
	case s < 48*3600:
		return strconv.FormatInt(s/3600, 10) + " h"
	}
	return strconv.FormatInt(s/86400, 10) + " d"
}

// sizeText is a byte count in binary units; 0 shows as a dash (not measured).
func sizeText(b uint64) string {
	if b == 0 {
		return "—"
	}
	if b < 1024 {
		return strconv.FormatUint(b, 10) + " B"
	}
	v := float64(b)
	unit := "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		if v < 1024 {
			break
		}
		v /= 1024
		unit = u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// numberText is v to at most two decimals.
func numberText(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
