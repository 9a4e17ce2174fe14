// Package examples checks the Prometheus and Grafana files under
// examples/prometheus and examples/grafana: promtool accepts the scrape
// config and the rules, the rules' unit tests pass and cover every alert,
// the dashboard is importable as it stands, and every metric that any of
// them names is one the agent exports.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

const (
	promDir     = "prometheus"
	configFile  = "prometheus.yml"
	rulesFile   = "lucid-rdp.rules.yml"
	rulesTest   = "lucid-rdp.rules.test.yml"
	dashboard   = "grafana/lucid-rdp.json"
	agentSource = "../reconciler/agent/metrics.go"
	dsVariable  = "${datasource}"
)

// agentMetrics are the agent's own series, without the lucid_rdp_ prefix
// (reconciler/agent/metrics.go; TestAgentMetricList keeps the two equal).
// The value says whether the metric is a histogram.
var agentMetrics = map[string]bool{
	"spec_last_reload_successful":                false,
	"spec_last_reload_success_timestamp_seconds": false,
	"reconcile_duration_seconds":                 true,
	"reconcile_total":                            false,
	"servers":                                    false,
	"server_up":                                  false,
	"server_restarts_total":                      false,
	"server_errors_total":                        false,
	"sessions":                                   false,
	"sessions_rejected_total":                    false,
	"leftovers_cleaned_total":                    false,
	"server_cpu_percent":                         false,
	"server_memory_bytes":                        false,
	"host_cpu_percent":                           false,
	"host_memory_percent":                        false,
	"host_disk_percent":                          false,
	"host_load1":                                 false,
	"port_range_free":                            false,
	"alert_firing":                               false,
	"alert_actions_total":                        false,
	"notifications_total":                        false,
	"build_info":                                 false,
	"spec_info":                                  false,
}

// exported reports whether name is a series the agent's /metrics has:
// one of its own (a histogram's as _bucket, _sum and _count), or one of the
// Go and process collectors'.
func exported(name string) bool {
	if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
		return true
	}
	own, ok := strings.CutPrefix(name, "lucid_rdp_")
	if !ok {
		return false
	}
	if _, ok := agentMetrics[own]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(own, suffix); ok && agentMetrics[base] {
			return true
		}
	}
	return false
}

// TestAgentMetricList keeps agentMetrics equal to what the agent registers,
// read from its source, so a renamed metric fails here rather than in a
// Grafana panel that quietly shows no data.
func TestAgentMetricList(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), agentSource, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr: // g("name", help), gv(...), cv(...)
			if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "g" || id.Name == "gv" || id.Name == "cv") && len(n.Args) > 0 {
				if s, ok := str(n.Args[0]); ok {
					got[s] = false
				}
			}
		case *ast.CompositeLit: // prometheus.HistogramOpts{Name: "name", ...}
			sel, ok := n.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Name" {
						if s, ok := str(kv.Value); ok {
							got[s] = sel.Sel.Name == "HistogramOpts"
						}
					}
				}
			}
		}
		return true
	})
	if len(got) < 10 {
		t.Fatalf("found only %d metric names in %s (%v): the way it declares them changed; update this test", len(got), agentSource, got)
	}
	for name, hist := range got {
		if want, ok := agentMetrics[name]; !ok {
			t.Errorf("%s registers lucid_rdp_%s, which agentMetrics lacks", agentSource, name)
		} else if want != hist {
			t.Errorf("lucid_rdp_%s: histogram %v in %s, %v in agentMetrics", name, hist, agentSource, want)
		}
	}
	for name := range agentMetrics {
		if _, ok := got[name]; !ok {
			t.Errorf("agentMetrics has lucid_rdp_%s, which %s does not register", name, agentSource)
		}
	}
}

// promtool returns the path of promtool: a skip without it, a failure under CI.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(t, "promtool is not installed (Debian package prometheus): %v", err)
	}
	return p
}

// run runs promtool with args in dir and returns its output; a non-zero
// exit fails the test.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestPrometheusConfig checks prometheus.yml fully, the rules file it loads
// included. promtool also requires the fleet job's credentials_file to exist,
// so the check runs on a copy of the folder with a made-up token beside it;
// the file itself is also checked where it stands, for syntax.
func TestPrometheusConfig(t *testing.T) {
	run(t, promDir, "check", "config", "--syntax-only", configFile)

	dir := t.TempDir()
	entries, err := os.ReadDir(promDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(promDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg, err := os.ReadFile(filepath.Join(promDir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*credentials_file:\s*(\S+)`).FindSubmatch(cfg)
	if m == nil {
		t.Fatalf("%s has no authorization.credentials_file for the agents that need a token", configFile)
	}
	if filepath.IsAbs(string(m[1])) {
		t.Fatalf("credentials_file %s: keep it relative (to the config's folder) so this test can give it a token", m[1])
	}
	if err := os.WriteFile(filepath.Join(dir, string(m[1])), []byte("not-a-real-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, "check", "config", configFile)
	if !strings.Contains(out, "Checking "+rulesFile) {
		t.Fatalf("promtool check config did not check %s; does %s load it?\n%s", rulesFile, configFile, out)
	}
}

func TestPrometheusRules(t *testing.T) {
	out := run(t, promDir, "check", "rules", rulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

func TestPrometheusRuleUnitTests(t *testing.T) {
	out := run(t, promDir, "test", "rules", rulesTest)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// rule is one entry of a rules file, read line by line (the module has no
// YAML library, and promtool has already checked the file's syntax).
type rule struct {
	kind, name string // kind: alert or record
	body       []string
}

func readRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(promDir, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`^\s*-\s+(alert|record):\s*(\S+)\s*$`)
	var rules []rule
	for _, line := range strings.Split(string(b), "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			rules = append(rules, rule{kind: m[1], name: m[2]})
			continue
		}
		if len(rules) > 0 && !strings.HasPrefix(strings.TrimSpace(line), "- name:") {
			rules[len(rules)-1].body = append(rules[len(rules)-1].body, line)
		}
	}
	return rules
}

// exprs returns the PromQL of every `expr:` key in a YAML file: plain or
// quoted scalars on the line, or block scalars (| or >) below it.
func exprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	key := regexp.MustCompile(`^(\s*)(-\s+)?expr:\s*(.*?)\s*$`)
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	var out []string
	for i := 0; i < len(lines); i++ {
		m := key.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		v := m[3]
		switch {
		case v == "" || strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">"):
			at := len(m[1]) + len(m[2])
			var block []string
			for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indent(lines[i+1]) > at) {
				i++
				block = append(block, strings.TrimSpace(lines[i]))
			}
			v = strings.Join(block, " ")
		case strings.HasPrefix(v, `"`):
			u, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			v = u
		case strings.HasPrefix(v, "'"):
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), "''", "'")
		}
		if strings.TrimSpace(v) == "" {
			t.Fatalf("%s:%d: empty expr", path, i+1)
		}
		out = append(out, v)
	}
	return out
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^{}]*\}|\[[^\[\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlToken    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?|[0-9][0-9a-zA-Z.]*`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "atan2": true}
)

// metricNames returns the series names a PromQL expression selects: what
// is left once strings, label matchers, ranges, grouping labels, function
// names, keywords and numbers are taken out.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promqlToken.FindAllStringSubmatch(s, -1) {
		tok := m[0]
		if m[1] != "" || tok[0] >= '0' && tok[0] <= '9' || promqlKeywords[strings.ToLower(tok)] {
			continue // a function or aggregation, a number or duration, a keyword
		}
		names = append(names, tok)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (job, instance) (rate(lucid_rdp_reconcile_total{result="error"}[5m])) / sum(x)`:   {"lucid_rdp_reconcile_total", "x"},
		`a == 0 and on (job) b{s=~"d|e"} > 0 unless ignoring(x) c offset 5m`:                      {"a", "b", "c"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket{i=~"$i"}[$__rate_interval]))) > 1e3`: {"h_bucket"},
		`job:lucid_rdp_sessions:sum`: {"job:lucid_rdp_sessions:sum"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestRules checks what promtool does not: every expression names only
// series the agent exports (or Prometheus's up, or a series recorded here),
// every alert has a for, a severity, a summary and a description, and the
// unit tests make every alert fire once and stay quiet once.
func TestRules(t *testing.T) {
	rules := readRules(t)
	recorded := map[string]bool{}
	var alerts []rule
	for _, r := range rules {
		if r.kind == "record" {
			recorded[r.name] = true
			if !regexp.MustCompile(`^[a-z_]+:lucid_rdp_[a-z0-9_]+:[a-z0-9_]+$`).MatchString(r.name) {
				t.Errorf("recording rule %s: name it level:metric:operations", r.name)
			}
		} else {
			alerts = append(alerts, r)
		}
	}
	if len(alerts) < 8 || len(recorded) < 4 {
		t.Fatalf("%s: read %d alerts and %d recording rules; expected more", rulesFile, len(alerts), len(recorded))
	}
	all := exprs(t, filepath.Join(promDir, rulesFile))
	if len(all) != len(rules) {
		t.Fatalf("%s: read %d exprs for %d rules", rulesFile, len(all), len(rules))
	}
	tested := exprs(t, filepath.Join(promDir, rulesTest))
	for _, e := range append(all, tested...) {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("no metric in %q", e)
		}
		for _, n := range names {
			if !exported(n) && !recorded[n] && n != "up" {
				t.Errorf("%q names %s, which is neither exported by the agent nor recorded in %s", e, n, rulesFile)
			}
		}
	}
	for _, a := range alerts {
		body := strings.Join(a.body, "\n")
		for _, want := range []string{"for:", "severity:", "summary:", "description:"} {
			if !strings.Contains(body, want) {
				t.Errorf("alert %s has no %s", a.name, want)
			}
		}
	}

	// Each alert needs a test in which it fires and one in which it does not.
	b, err := os.ReadFile(filepath.Join(promDir, rulesTest))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	fires, quiet := map[string]int{}, map[string]int{}
	name := regexp.MustCompile(`alertname:\s*([A-Za-z0-9_]+)`)
	for i, line := range lines {
		m := name.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch {
		case regexp.MustCompile(`exp_alerts:\s*\[\s*\]`).MatchString(line):
			quiet[m[1]]++
		case i+1 < len(lines) && regexp.MustCompile(`^\s*exp_alerts:\s*\[\s*\]\s*$`).MatchString(lines[i+1]):
			quiet[m[1]]++
		case i+2 < len(lines) && regexp.MustCompile(`^\s*exp_alerts:\s*$`).MatchString(lines[i+1]) &&
			regexp.MustCompile(`^\s*-\s+exp_labels:`).MatchString(lines[i+2]):
			fires[m[1]]++
		default:
			t.Errorf("%s:%d: cannot tell what the test of %s expects; write exp_alerts as the others do", rulesTest, i+1, m[1])
		}
	}
	for _, a := range alerts {
		if fires[a.name] == 0 {
			t.Errorf("%s has no test in which %s fires", rulesTest, a.name)
		}
		if quiet[a.name] == 0 {
			t.Errorf("%s has no test in which %s stays quiet", rulesTest, a.name)
		}
	}
}

// TestMetricTokens does what a check against a live agent's /metrics does
// with these files: every lucid_rdp_ word in them, less a histogram's
// suffix, must be a metric the agent exports.
func TestMetricTokens(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(promDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dashboards, _ := filepath.Glob("grafana/*.json")
	files = append(files, dashboards...)
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	word := regexp.MustCompile(`lucid_rdp_[a-z0-9_]+`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		words := word.FindAllString(string(b), -1)
		seen += len(words)
		for _, w := range words {
			if !exported(w) {
				t.Errorf("%s: %s is not a metric the agent exports", f, w)
			}
		}
	}
	if seen < 50 {
		t.Errorf("only %d lucid_rdp_ words in %v: is the reading right?", seen, files)
	}
}

// TestDashboard checks that the dashboard imports as it is (no __inputs: the
// data source is the ${datasource} variable) and has the panels an operator
// looks for, each querying only what the agent exports.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID           string   `json:"uid"`
		Title         string   `json:"title"`
		Tags          []string `json:"tags"`
		SchemaVersion int      `json:"schemaVersion"`
		Inputs        []any    `json:"__inputs"`
		Templating    struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Datasource *datasource     `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Name       string      `json:"name"`
				Expr       string      `json:"expr"`
				Datasource *datasource `json:"datasource"`
			} `json:"list"`
		} `json:"annotations"`
		Panels []panel `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value", dashboard)
	}
	if d.UID == "" || d.Title == "" || len(d.Tags) == 0 {
		t.Errorf("uid %q, title %q, tags %q: all are needed", d.UID, d.Title, d.Tags)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d: want one of Grafana 10 or 11 (36-41)", d.SchemaVersion)
	}
	if len(d.Inputs) != 0 || bytes.Contains(raw, []byte("${DS_")) {
		t.Errorf("the dashboard must import without __inputs: use the ${datasource} variable")
	}

	// Every datasource anywhere is the variable.
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	walkDatasources(t, "$", tree)

	// Every query, to be parsed by promtool at the end.
	var queries []string
	check := func(where, expr string) {
		t.Helper()
		checkExpr(t, where, expr)
		queries = append(queries, expr)
	}

	// Template variables.
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Errorf("variable %s: query %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		vars[v.Name] = v.Type + " " + q
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dsVariable) {
			t.Errorf("variable %s does not query the ${datasource} variable", v.Name)
		}
		if v.Type == "query" {
			m := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(q)
			if m == nil {
				t.Errorf("variable %s: query %q is not label_values(SERIES, LABEL)", v.Name, q)
			} else {
				check("variable "+v.Name, m[1])
			}
		}
	}
	for name, want := range map[string]*regexp.Regexp{
		"datasource": regexp.MustCompile(`^datasource prometheus$`),
		"instance":   regexp.MustCompile(`^query label_values\(lucid_rdp_server_up(\{[^}]*\})?, *instance\)$`),
		"server":     regexp.MustCompile(`^query label_values\(lucid_rdp_server_up\{instance=~"\$instance"\}, *server\)$`),
	} {
		if !want.MatchString(vars[name]) {
			t.Errorf("variable %s is %q, want %s", name, vars[name], want)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			check("annotation "+a.Name, a.Expr)
		}
	}

	// Panels: ids, places, targets, queries.
	var flat []panel
	for _, p := range d.Panels {
		flat = append(flat, p)
		flat = append(flat, p.Panels...) // a collapsed row holds its panels
	}
	ids := map[int]string{}
	byTitle := map[string]panel{}
	for _, p := range flat {
		if p.ID <= 0 {
			t.Errorf("panel %q has no id", p.Title)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if _, dup := byTitle[p.Title]; dup {
			t.Errorf("two panels are titled %q", p.Title)
		}
		byTitle[p.Title] = p
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q, target %s: empty expr", p.Title, tg.RefID)
				continue
			}
			check(fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr)
		}
	}
	checkGrid(t, flat)
	t.Run("promtool parses every query", func(t *testing.T) { checkQueriesParse(t, queries) })

	for title, want := range map[string][]string{
		"Servers up":                  {"lucid_rdp_server_up"},
		"Sessions per server":         {"lucid_rdp_sessions"},
		"Rejected sessions by reason": {"lucid_rdp_sessions_rejected_total", "by (reason)"},
		"Reconcile latency":           {"histogram_quantile(0.5,", "histogram_quantile(0.99,", "lucid_rdp_reconcile_duration_seconds_bucket", "le)"},
		"Alerts firing":               {"lucid_rdp_alert_firing"},
		"CPU per server":              {"lucid_rdp_server_cpu_percent"},
		"Memory per server":           {"lucid_rdp_server_memory_bytes"},
		"Spec reload":                 {"lucid_rdp_spec_last_reload_successful"},
		"Build version":               {"lucid_rdp_build_info"},
	} {
		p, ok := byTitle[title]
		if !ok {
			t.Errorf("no panel titled %q", title)
			continue
		}
		var all []string
		for _, tg := range p.Targets {
			all = append(all, tg.Expr)
		}
		joined := strings.Join(all, "\n")
		for _, w := range want {
			if !strings.Contains(joined, w) {
				t.Errorf("panel %q: no query has %q:\n%s", title, w, joined)
			}
		}
	}
}

// grafanaVariable is a $name or ${name} in a query.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)\}?`)

// checkQueriesParse has promtool parse the dashboard's queries, as recording
// rules, with the Grafana variables given values: a range for $__rate_interval
// and the like, a match-all regexp for the rest (all of them are =~ matchers).
func checkQueriesParse(t *testing.T, queries []string) {
	t.Helper()
	if len(queries) < 20 {
		t.Fatalf("only %d queries", len(queries))
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		q = grafanaVariable.ReplaceAllStringFunc(q, func(v string) string {
			if strings.HasPrefix(strings.Trim(v, "${}"), "__") {
				return "5m"
			}
			return ".*"
		})
		quoted, err := json.Marshal(q) // a JSON string is a YAML double-quoted scalar
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - record: dashboard_query_%d\n        expr: %s\n", i, quoted)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.rules.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, "check", "rules", "dashboard.rules.yml")
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(queries)); !strings.Contains(out, want) {
		t.Fatalf("promtool check rules on the dashboard's queries: want %q in\n%s", want, out)
	}
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// walkDatasources fails on any "datasource" that is not the ${datasource}
// variable of type prometheus.
func walkDatasources(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "datasource" {
				ds, ok := v[k].(map[string]any)
				if !ok || ds["uid"] != dsVariable || ds["type"] != "prometheus" {
					t.Errorf("%s.datasource is %v, want {type: prometheus, uid: %s}", at, v[k], dsVariable)
				}
				continue
			}
			walkDatasources(t, at+"."+k, v[k])
		}
	case []any:
		for i, x := range v {
			walkDatasources(t, fmt.Sprintf("%s[%d]", at, i), x)
		}
	}
}

// checkExpr fails on a dashboard query that names a series the agent does
// not export.
func checkExpr(t *testing.T, where, expr string) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		if !exported(n) {
			t.Errorf("%s: %s is not a metric the agent exports (in %q)", where, n, expr)
		}
	}
}

// checkGrid fails on panels that leave the 24 columns or overlap.
func checkGrid(t *testing.T, panels []panel) {
	t.Helper()
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range panels {
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is outside the 24 columns", p.Title, g)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at column %d, row %d", other, p.Title, x, y)
					return
				}
				taken[cell{x, y}] = p.Title
			}
		}
	}
}
