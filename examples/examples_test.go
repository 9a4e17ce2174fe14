// Package examples checks the files under examples/: promtool accepts the
// scrape configs and the rules, the rules' unit tests pass and cover every
// alert, the dashboard is importable as it stands and filters on the fleet's
// hosts, and every metric that any of them names is one the agent exports.
// It also checks the fleet's files: the target list that `lucid-rdp fleet
// targets` writes and the units that keep it current, Alertmanager's routes
// and inhibit rules (with amtool and a real Alertmanager), the GitOps check
// script against fake agents, and the Nomad job and Kubernetes DaemonSet as
// their parsers read them.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"go.yaml.in/yaml/v3"

	"github.com/lucid-rdp/lucid-rdp/internal/amtest"
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
				Multi      bool            `json:"multi"`
				IncludeAll bool            `json:"includeAll"`
				AllValue   string          `json:"allValue"`
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
	var order []string
	for _, v := range d.Templating.List {
		order = append(order, v.Name)
		if v.Name == "host" && (!v.Multi || !v.IncludeAll || v.AllValue != ".*") {
			t.Errorf("variable host: multi %v, includeAll %v, allValue %q; want true, true and \".*\" (All must also match series without the label)",
				v.Multi, v.IncludeAll, v.AllValue)
		}
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
		"host":       regexp.MustCompile(`^query label_values\(lucid_rdp_[a-z0-9_]+, *host\)$`),
		"instance":   regexp.MustCompile(`^query label_values\(lucid_rdp_server_up\{host=~"\$host"\}, *instance\)$`),
		"server":     regexp.MustCompile(`^query label_values\(lucid_rdp_server_up\{host=~"\$host", *instance=~"\$instance"\}, *server\)$`),
	} {
		if !want.MatchString(vars[name]) {
			t.Errorf("variable %s is %q, want %s", name, vars[name], want)
		}
	}
	// Each list narrows the next, so each must come after the one it reads.
	if want := []string{"datasource", "host", "instance", "server"}; !slices.Equal(order, want) {
		t.Errorf("variables in order %q, want %q", order, want)
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			check("annotation "+a.Name, a.Expr)
			checkHostFilter(t, "annotation "+a.Name, a.Expr)
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
			where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
			check(where, tg.Expr)
			checkHostFilter(t, where, tg.Expr)
			if strings.Contains(tg.LegendFormat, "{{instance}}") {
				t.Errorf("%s: legend %q names the agent by address; name it by {{host}}", where, tg.LegendFormat)
			}
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
		RefID        string      `json:"refId"`
		Expr         string      `json:"expr"`
		LegendFormat string      `json:"legendFormat"`
		Datasource   *datasource `json:"datasource"`
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

// hostSelector is a series selector that filters on the dashboard's host
// list: NAME{..., host=~"$host", ...}.
var hostSelector = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^{}]*\bhost=~"\$host"[^{}]*\}`)

// checkHostFilter fails on a dashboard query that selects a series without
// the host=~"$host" filter, and on one that aggregates per agent (by
// instance) but not per host, which would merge what the legend tells apart.
func checkHostFilter(t *testing.T, where, expr string) {
	t.Helper()
	want := map[string]int{}
	for _, n := range metricNames(expr) {
		want[n]++
	}
	got := map[string]int{}
	for _, m := range hostSelector.FindAllStringSubmatch(expr, -1) {
		got[m[1]]++
	}
	for n, c := range want {
		if got[n] < c {
			t.Errorf("%s: %s is selected without host=~\"$host\" in %q", where, n, expr)
		}
	}
	for _, by := range regexp.MustCompile(`\bby\s*\(([^()]*)\)`).FindAllStringSubmatch(expr, -1) {
		labels := regexp.MustCompile(`\s*,\s*`).Split(strings.TrimSpace(by[1]), -1)
		if slices.Contains(labels, "instance") && !slices.Contains(labels, "host") {
			t.Errorf("%s: %q groups by instance but not by host", where, by[0])
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

// ---- The fleet: targets, Alertmanager, GitOps, Nomad, Kubernetes ----

const (
	fleetConfig   = "fleet.yml"
	targetsUnit   = "prometheus/lucid-rdp-targets.service"
	targetsTimer  = "prometheus/lucid-rdp-targets.timer"
	amConfig      = "alertmanager/alertmanager.yml"
	checkScript   = "gitops/check.sh"
	workflow      = "gitops/github-actions.yml"
	nomadJob      = "nomad/lucid-rdp.nomad.hcl"
	daemonSet     = "kubernetes/lucid-rdp-daemonset.yaml"
	pullUnit      = "systemd/lucid-rdp-pull.service"
	testdataFleet = "../spec/testdata/fleet"
	installedBin  = "/usr/local/bin/lucid-rdp"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// lucidRDP builds the lucid-rdp command from this checkout, once per run,
// and returns its path: the fleet tests run the real thing.
func lucidRDP(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("no go on PATH to build lucid-rdp: %v", err)
			return
		}
		if binDir, err = os.MkdirTemp("", "lucid-rdp-examples-"); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(binDir, "lucid-rdp")
		if out, err := exec.Command(goBin, "build", "-o", binPath, "../cmd/lucid-rdp").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ../cmd/lucid-rdp: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// readFile returns the file's content; a missing file fails the test.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyDir copies the regular files of src (not its folders) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := os.WriteFile(filepath.Join(dst, e.Name()), []byte(readFile(t, filepath.Join(src, e.Name()))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fileSDPath returns the one file_sd file fleet.yml reads, relative to its
// folder.
func fileSDPath(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*- files:\s*\[\s*"([^"*]+)"\s*\]`).FindAllStringSubmatch(readFile(t, filepath.Join(promDir, fleetConfig)), -1)
	if len(m) != 1 {
		t.Fatalf("%s: want one file_sd_configs entry, files: [\"PATH\"], found %d", fleetConfig, len(m))
	}
	if filepath.IsAbs(m[0][1]) {
		t.Fatalf("%s: file_sd file %s: keep it relative (to the config's folder) so this test can write it", fleetConfig, m[0][1])
	}
	return m[0][1]
}

// fileSDGroup is one group of a file_sd file.
type fileSDGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

func readTargets(t *testing.T, path string) map[string]fileSDGroup {
	t.Helper()
	var groups []fileSDGroup
	if err := json.Unmarshal([]byte(readFile(t, path)), &groups); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	byHost := map[string]fileSDGroup{}
	for _, g := range groups {
		byHost[g.Labels["host"]] = g
	}
	return byHost
}

// TestFleetPrometheusConfig checks fleet.yml as promtool reads it, with the
// target file that `lucid-rdp fleet targets` really writes for the fleet of
// spec/testdata/fleet (promtool checks a file_sd file's targets and labels,
// and only warns when it is missing, which fails here), and that the rules'
// LucidRdpAgentDown watches its job.
func TestFleetPrometheusConfig(t *testing.T) {
	tool := promtool(t)
	dir := t.TempDir()
	copyDir(t, promDir, dir)
	cfg := readFile(t, filepath.Join(promDir, fleetConfig))
	m := regexp.MustCompile(`(?m)^\s*credentials_file:\s*(\S+)`).FindStringSubmatch(cfg)
	if m == nil || filepath.IsAbs(m[1]) {
		t.Fatalf("%s: want a relative authorization.credentials_file for the agents' token, found %q", fleetConfig, m)
	}
	if err := os.WriteFile(filepath.Join(dir, m[1]), []byte("not-a-real-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*refresh_interval:\s*\d+[smh]\s*$`).MatchString(cfg) {
		t.Errorf("%s: no refresh_interval on the file_sd config", fleetConfig)
	}
	sd := filepath.Join(dir, fileSDPath(t))
	if err := os.MkdirAll(filepath.Dir(sd), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(lucidRDP(t), "fleet", "targets", "-config", testdataFleet, "-o", sd).CombinedOutput(); err != nil {
		t.Fatalf("lucid-rdp fleet targets: %v\n%s", err, out)
	}
	hosts := readTargets(t, sd)
	for _, h := range []string{"lab-1", "pi-1", "pi-2"} {
		if g, ok := hosts[h]; !ok || len(g.Targets) != 1 || g.Labels["role"] == "" {
			t.Errorf("the target file has %+v for host %s; want its address and labels (role, room)", g, h)
		}
	}

	cmd := exec.Command(tool, "check", "config", fleetConfig)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "WARNING") || !strings.Contains(string(out), "Checking "+rulesFile) {
		t.Fatalf("promtool check config %s: %v (want no warning, and %s checked)\n%s", fleetConfig, err, rulesFile, out)
	}

	// The rules' agent-down alert must cover the scrape jobs.
	rm := regexp.MustCompile(`up\{job=~"([^"]+)"\}`).FindStringSubmatch(readFile(t, filepath.Join(promDir, rulesFile)))
	if rm == nil {
		t.Fatalf("%s: no up{job=~\"...\"} in LucidRdpAgentDown", rulesFile)
	}
	jobRE := regexp.MustCompile("^(?:" + rm[1] + ")$")
	for _, f := range []string{configFile, fleetConfig} {
		jobs := regexp.MustCompile(`(?m)^\s*- job_name:\s*(\S+)`).FindAllStringSubmatch(readFile(t, filepath.Join(promDir, f)), -1)
		if len(jobs) == 0 {
			t.Errorf("%s: no job_name", f)
		}
		for _, j := range jobs {
			if !jobRE.MatchString(j[1]) {
				t.Errorf("%s: job %s is not watched by LucidRdpAgentDown (job=~%q)", f, j[1], rm[1])
			}
		}
	}
}

// unitFile is a systemd unit as this test reads it: section.key -> values.
type unitFile map[string][]string

func readUnitFile(t *testing.T, path string) unitFile {
	t.Helper()
	u, section := unitFile{}, ""
	for n, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case strings.HasSuffix(line, `\`) || (section == "Service" && strings.HasPrefix(line, "ExecStart=") && strings.ContainsAny(line, `"'`)):
			t.Fatalf("%s:%d: this test reads no continuations or quoting; keep the unit plain", path, n+1)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not key=value: %s", path, n+1, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// TestTargetsUnits checks lucid-rdp-targets.service and .timer with
// systemd-analyze, then runs the service's own commands (its ExecStart
// lines, on folders of this test) on a checkout of a bare repository: the
// target file follows pushed commits, and a commit whose spec does not
// validate leaves the last good file in place.
func TestTargetsUnits(t *testing.T) {
	bin := lucidRDP(t)
	svc := readUnitFile(t, targetsUnit)
	if got := svc["Service.Type"]; !slices.Equal(got, []string{"oneshot"}) {
		t.Errorf("%s: Type=%v; want oneshot (its ExecStart lines run in turn, and stop at the first that fails)", targetsUnit, got)
	}
	if tm := readUnitFile(t, targetsTimer); len(tm["Timer.OnUnitActiveSec"]) == 0 || !slices.Equal(tm["Install.WantedBy"], []string{"timers.target"}) {
		t.Errorf("%s: want OnUnitActiveSec= and WantedBy=timers.target, got %v", targetsTimer, tm)
	}
	execs := svc["Service.ExecStart"]
	if len(execs) != 2 || !strings.Contains(execs[0], " pull --ff-only") || !strings.HasPrefix(execs[1], installedBin+" fleet targets ") {
		t.Fatalf("%s: ExecStart=%q; want git ... pull --ff-only, then %s fleet targets ...", targetsUnit, execs, installedBin)
	}
	// The unit's -o must be the file fleet.yml reads, in its folder.
	argv := strings.Fields(execs[1])
	out := argv[slices.Index(argv, "-o")+1]
	if !strings.HasSuffix(out, "/"+fileSDPath(t)) {
		t.Errorf("%s writes %s; fleet.yml reads %s beside it", targetsUnit, out, fileSDPath(t))
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			testenv.Missing(t, "systemd-analyze is not installed (Debian package systemd)")
		}
		dir := t.TempDir()
		for _, f := range []string{targetsUnit, targetsTimer} {
			// verify checks that an ExecStart= binary exists: give it this run's.
			text := strings.ReplaceAll(readFile(t, f), installedBin, bin)
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command("systemd-analyze", "verify",
			filepath.Join(dir, filepath.Base(targetsUnit)), filepath.Join(dir, filepath.Base(targetsTimer))).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("the service's commands", func(t *testing.T) {
		gitArgv := strings.Fields(execs[0])
		ci := slices.Index(gitArgv, "-C")
		if ci < 0 {
			t.Fatalf("ExecStart=%s: want git -C CHECKOUT pull", execs[0])
		}
		checkout := gitArgv[ci+1]
		cfg := argv[slices.Index(argv, "-config")+1]
		if cfg != checkout && !strings.HasPrefix(cfg, checkout+"/") {
			t.Fatalf("fleet targets reads %s, outside the checkout %s that the unit pulls", cfg, checkout)
		}
		root := t.TempDir()
		origin, ops, work := filepath.Join(root, "origin.git"), filepath.Join(root, "ops"), filepath.Join(root, "checkout")
		outFile := filepath.Join(root, "prometheus", fileSDPath(t))
		if err := os.MkdirAll(filepath.Dir(outFile), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, root, "init", "-q", "--bare", origin)
		testenv.Git(t, root, "clone", "-q", origin, ops)
		specDir := filepath.Join(ops, strings.TrimPrefix(cfg, checkout))
		copyDir(t, testdataFleet, specDir)
		push := func(msg string) {
			t.Helper()
			testenv.Git(t, ops, "add", "-A")
			testenv.Git(t, ops, "commit", "-q", "-m", msg)
			testenv.Git(t, ops, "push", "-q", "origin", "HEAD:main")
		}
		push("three hosts")
		testenv.Git(t, root, "clone", "-q", "--branch", "main", origin, work)
		run := func() error {
			t.Helper()
			for _, line := range execs {
				a := strings.Fields(line)
				for i, w := range a {
					switch {
					case w == installedBin:
						a[i] = bin
					case w == out:
						a[i] = outFile
					case w == checkout || strings.HasPrefix(w, checkout+"/"):
						a[i] = work + strings.TrimPrefix(w, checkout)
					}
				}
				if b, err := exec.Command(a[0], a[1:]...).CombinedOutput(); err != nil {
					return fmt.Errorf("%s: %v\n%s", strings.Join(a, " "), err, b)
				}
			}
			return nil
		}
		if err := run(); err != nil {
			t.Fatal(err)
		}
		if got := readTargets(t, outFile); len(got) != 3 {
			t.Fatalf("after the first run the target file has %d hosts, want 3", len(got))
		}

		// A pushed host appears after the next run.
		hostsFile := filepath.Join(specDir, "hosts.hcl")
		withPi3 := readFile(t, hostsFile) + "\nhost \"pi-3\" {\n  labels  = { role = \"kiosk\", room = \"hall\" }\n  address = \"http://10.0.0.23:8090\"\n}\n"
		if err := os.WriteFile(hostsFile, []byte(withPi3), 0o644); err != nil {
			t.Fatal(err)
		}
		push("add pi-3")
		if err := run(); err != nil {
			t.Fatal(err)
		}
		if g, ok := readTargets(t, outFile)["pi-3"]; !ok || !slices.Equal(g.Targets, []string{"10.0.0.23:8090"}) {
			t.Fatalf("after pushing pi-3 the target file has %+v for it", g)
		}
		good := readFile(t, outFile)

		// A commit that does not validate: the unit fails, the file stays.
		if err := os.WriteFile(hostsFile, []byte(withPi3+"\nhost \"pi-4\" {\n  address = \n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		push("break the spec")
		if err := run(); err == nil {
			t.Fatal("the unit's commands succeeded on a spec that does not validate")
		}
		if readFile(t, outFile) != good {
			t.Fatal("a spec that does not validate changed the target file")
		}
	})
}

// amtool returns the path of amtool: a skip without it, a failure under CI.
func amtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("amtool")
	if err != nil {
		testenv.Missing(t, "amtool is not installed (Debian package prometheus-alertmanager): %v", err)
	}
	return p
}

// TestAlertmanagerConfig checks alertmanager.yml with amtool, and that
// amtool routes each kind of lucid-rdp alert (every alert of the rules, and
// the agent's own for each family of metric) to the lucid-rdp receiver,
// grouped by host and alertname, and anything else elsewhere.
func TestAlertmanagerConfig(t *testing.T) {
	tool := amtool(t)
	out, err := exec.Command(tool, "check-config", amConfig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("amtool check-config %s: %v\n%s", amConfig, err, out)
	}
	route := func(want string, labels ...string) {
		t.Helper()
		args := append([]string{"config", "routes", "test", "--config.file=" + amConfig, "--verify.receivers=" + want}, labels...)
		var stderr bytes.Buffer
		cmd := exec.Command(tool, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output() // the receivers, then a warning when they are not want
		if err != nil {
			got, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			t.Errorf("%v reaches %q, want %s (%v)\n%s", labels, got, want, err, stderr.String())
		}
	}
	// The agent's own (reconciler/notify): alertname is the alert block's name.
	route("lucid-rdp", "alertname=pi-memory", "host=pi-1", "metric=host.memory_percent")
	route("lucid-rdp", "alertname=kiosk-full", "host=pi-2", "server=kiosk", "metric=server.sessions_ratio", "severity=page")
	route("lucid-rdp", "alertname=ports", "host=lab-1", "range=desktops", "metric=port_range.free")
	// Prometheus's, for each alert of the rules.
	n := 0
	for _, r := range readRules(t) {
		if r.kind == "alert" {
			route("lucid-rdp", "alertname="+r.name, "host=pi-1", "job=lucid-rdp-fleet", "instance=10.0.0.21:8090", "severity=warning")
			n++
		}
	}
	if n == 0 {
		t.Fatal("no alert in the rules")
	}
	// Not lucid-rdp's.
	route("default", "alertname=NodeDown", "host=pi-1")
	route("default", "alertname=Disk", "metric=hostXmemory")

	// Every lucid-rdp route groups by host and alertname.
	docs, err := parseYAML(readFile(t, amConfig))
	if err != nil {
		t.Fatalf("%s: %v", amConfig, err)
	}
	routes, _ := yget(docs[0], "route", "routes").([]any)
	if len(routes) == 0 {
		t.Fatalf("%s: no route.routes", amConfig)
	}
	for i, r := range routes {
		if yget(r, "receiver") == "lucid-rdp" {
			if g := yget(r, "group_by"); !reflect.DeepEqual(g, []any{"host", "alertname"}) {
				t.Errorf("route %d: group_by %v, want [host, alertname]", i, g)
			}
		}
	}
}

// TestAlertmanagerInhibits sends alerts to a real Alertmanager running
// alertmanager.yml and reads back which it suppresses: an agent's own alert
// mutes Prometheus's LucidRdpAlertFiring for that host only, and a server
// down mutes its flapping warning only.
func TestAlertmanagerInhibits(t *testing.T) {
	base := amtest.StartWith(t, amConfig)
	type alert struct {
		Labels map[string]string `json:"labels"`
	}
	fleetJob := map[string]string{"job": "lucid-rdp-fleet"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	// case -> labels, and whether Alertmanager must suppress it.
	cases := map[string]struct {
		labels     map[string]string
		suppressed bool
	}{
		"agent alert on pi-1":  {map[string]string{"alertname": "pi-memory", "host": "pi-1", "metric": "host.memory_percent"}, false},
		"AlertFiring on pi-1":  {with(fleetJob, "alertname", "LucidRdpAlertFiring", "alert", "pi-memory", "host", "pi-1", "instance", "10.0.0.21:8090"), true},
		"AlertFiring on pi-2":  {with(fleetJob, "alertname", "LucidRdpAlertFiring", "alert", "pi-memory", "host", "pi-2", "instance", "10.0.0.22:8090"), false},
		"AlertFiring, no host": {map[string]string{"alertname": "LucidRdpAlertFiring", "alert": "x", "job": "lucid-rdp", "instance": "127.0.0.1:8090"}, false},
		"kiosk down":           {with(fleetJob, "alertname", "LucidRdpServerDown", "host", "pi-2", "instance", "10.0.0.22:8090", "server", "kiosk"), false},
		"kiosk flapping":       {with(fleetJob, "alertname", "LucidRdpServerRestartsFlapping", "host", "pi-2", "instance", "10.0.0.22:8090", "server", "kiosk"), true},
		"hall flapping":        {with(fleetJob, "alertname", "LucidRdpServerRestartsFlapping", "host", "pi-2", "instance", "10.0.0.22:8090", "server", "hall-display"), false},
		"kiosk flapping, pi-1": {with(fleetJob, "alertname", "LucidRdpServerRestartsFlapping", "host", "pi-1", "instance", "10.0.0.21:8090", "server", "kiosk"), false},
	}
	var post []alert
	for name, c := range cases {
		post = append(post, alert{Labels: with(c.labels, "case", name)})
	}
	body, _ := json.Marshal(post)
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	// The inhibitor learns of sources asynchronously: ask until every alert
	// is listed and those to suppress are, then compare all.
	var got map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		var list []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		for _, a := range list {
			got[a.Labels["case"]] = a.Status.State
		}
		done := len(got) == len(cases)
		for name, c := range cases {
			if c.suppressed && got[name] != "suppressed" {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
	}
	for name, c := range cases {
		want := "active"
		if c.suppressed {
			want = "suppressed"
		}
		if got[name] != want {
			t.Errorf("%s: %q, want %s", name, got[name], want)
		}
	}
}

// fakeAgent is an agent's API as `fleet plan` asks it: GET /v1/status and
// POST /v1/plan, behind a bearer token. changed makes its plan's spec hash
// differ from the one it runs, which fleet plan counts as a change.
type fakeAgent struct {
	host, token string
	changed     bool
	asked       atomic.Int32
	srv         *httptest.Server
}

func newFakeAgent(t *testing.T, host, token string, changed bool) *fakeAgent {
	a := &fakeAgent{host: host, token: token, changed: changed}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.asked.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+a.token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/status":
			fmt.Fprintf(w, `{"spec":{"hash":"sha256:running","host":%q,"revision":"0123456789abcdef"}}`, a.host)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/plan":
			hash := "sha256:running"
			if a.changed {
				hash = "sha256:proposed"
			}
			fmt.Fprintf(w, `{"format_version":"1","host":%q,"spec_hash":%q,"changes":[],"summary":{"create":0,"replace":0,"update":0,"delete":0}}`, a.host, hash)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestGitopsCheck runs check.sh as CI would, with the real lucid-rdp,
// against fake agents: exit 0 with and without changes (saying which, and
// writing PLAN_JSON), non-zero for an unformatted or invalid folder (before
// any agent is asked) and for a host that does not answer.
func TestGitopsCheck(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		testenv.Missing(t, "bash is not installed")
	}
	if st, err := os.Stat(checkScript); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("%s is not executable (%v)", checkScript, err)
	}
	if out, err := exec.Command("bash", "-n", checkScript).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s", checkScript, err, out)
	}
	t.Run("shellcheck", func(t *testing.T) {
		// Not among the test packages (scripts/setup.sh): an extra, where present.
		if _, err := exec.LookPath("shellcheck"); err != nil {
			testenv.Missing(t, "shellcheck is not installed")
		}
		if out, err := exec.Command("shellcheck", checkScript).CombinedOutput(); err != nil {
			t.Fatalf("shellcheck %s: %v\n%s", checkScript, err, out)
		}
	})

	bin := lucidRDP(t)
	script, err := filepath.Abs(checkScript)
	if err != nil {
		t.Fatal(err)
	}
	ha := newFakeAgent(t, "ha", "s3cret", false)
	hb := newFakeAgent(t, "hb", "s3cret", false)
	fleet := func(t *testing.T, extra string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "fleet")
		if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokens", "agent"), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		hosts := fmt.Sprintf(`host "ha" {
  address    = %q
  token_file = "tokens/agent"
}

host "hb" {
  labels     = { role = "kiosk" }
  address    = %q
  token_file = "tokens/agent"
}

agent {
  state_dir = ".lucid-rdp"
}
`, ha.srv.URL, hb.srv.URL)
		for name, text := range map[string]string{"hosts.hcl": hosts, "extra.hcl": extra} {
			if text != "" {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	check := func(t *testing.T, dir string, env ...string) (int, string) {
		t.Helper()
		ha.asked.Store(0)
		hb.asked.Store(0)
		cmd := exec.Command(script, dir)
		cmd.Dir = filepath.Dir(dir)
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "PLAN_JSON=") || strings.HasPrefix(kv, "LUCID_RDP=")
		}), append([]string{"LUCID_RDP=" + bin, "NO_COLOR=1"}, env...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("check.sh: %v\n%s", err, out)
			}
			code = ee.ExitCode()
		}
		return code, string(out)
	}
	server := "server \"kiosk\" {\n  hosts = [\"hb\"]\n  port  = 13500\n}\n"

	t.Run("no changes", func(t *testing.T) {
		code, out := check(t, fleet(t, server))
		for _, want := range []string{"is valid: 2 hosts.", "host ha", "host hb", "OK, no changes"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("exit %d; want 0, validate's summary, the plan of both hosts and \"OK, no changes\" (no %q):\n%s", code, want, out)
			}
		}
	})
	t.Run("changes", func(t *testing.T) {
		hb.changed = true
		defer func() { hb.changed = false }()
		planJSON := filepath.Join(t.TempDir(), "plan.json")
		code, out := check(t, fleet(t, server), "PLAN_JSON="+planJSON)
		if code != 0 || !strings.Contains(out, "OK, with changes") || !strings.Contains(out, "Fleet: 2 hosts: 1 to change") {
			t.Fatalf("exit %d; want 0, the fleet total and \"OK, with changes\":\n%s", code, out)
		}
		var doc struct {
			FormatVersion string `json:"format_version"`
			Hosts         []struct {
				Host        string `json:"host"`
				SpecChanged bool   `json:"spec_changed"`
			} `json:"hosts"`
			Summary struct {
				Hosts, Changed, Unchanged, Failed int
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(readFile(t, planJSON)), &doc); err != nil {
			t.Fatalf("PLAN_JSON: %v", err)
		}
		if doc.FormatVersion != "1" || len(doc.Hosts) != 2 || doc.Summary.Hosts != 2 || doc.Summary.Changed != 1 || doc.Summary.Failed != 0 {
			t.Fatalf("PLAN_JSON holds %+v; want format 1, 2 hosts, 1 changed", doc)
		}
	})
	t.Run("not formatted", func(t *testing.T) {
		code, out := check(t, fleet(t, "server \"kiosk\" {\nhosts = [\"hb\"]\nport=13500\n}\n"))
		if code == 0 || !strings.Contains(out, "+  port  = 13500") {
			t.Fatalf("exit %d; want non-zero with fmt's diff:\n%s", code, out)
		}
		if n := ha.asked.Load() + hb.asked.Load(); n != 0 {
			t.Errorf("the agents were asked %d times about an unformatted folder", n)
		}
	})
	t.Run("not valid", func(t *testing.T) {
		code, out := check(t, fleet(t, "server \"kiosk\" {\n  hosts = [\"hb\"]\n  port  = 0\n}\n"))
		if code == 0 || !strings.Contains(out, "is not valid: errors on hb (1 of 2 hosts)") {
			t.Fatalf("exit %d; want non-zero, and validate saying why:\n%s", code, out)
		}
		if n := ha.asked.Load() + hb.asked.Load(); n != 0 {
			t.Errorf("the agents were asked %d times about an invalid folder", n)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		hb.token = "another"
		defer func() { hb.token = "s3cret" }()
		code, out := check(t, fleet(t, server))
		if code == 0 || !strings.Contains(out, "401") {
			t.Fatalf("exit %d; want non-zero, naming the refused token:\n%s", code, out)
		}
	})
	t.Run("a host does not answer", func(t *testing.T) {
		gone := newFakeAgent(t, "hb", "s3cret", false)
		gone.srv.Close()
		dir := fleet(t, server)
		hostsFile := filepath.Join(dir, "hosts.hcl")
		text := strings.Replace(readFile(t, hostsFile), hb.srv.URL, gone.srv.URL, 1)
		if err := os.WriteFile(hostsFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := check(t, dir)
		if code == 0 || !strings.Contains(out, "could not be planned") {
			t.Fatalf("exit %d; want non-zero when a host does not answer:\n%s", code, out)
		}
	})
	t.Run("no lucid-rdp", func(t *testing.T) {
		code, out := check(t, fleet(t, server), "LUCID_RDP="+filepath.Join(t.TempDir(), "missing"))
		if code == 0 {
			t.Fatalf("exit 0 without a lucid-rdp binary:\n%s", out)
		}
	})
}

// TestGitopsWorkflow reads the GitHub Actions workflow: it runs on pull
// requests and on pushes to main, on a self-hosted runner, and calls
// ci/check.sh with LUCID_RDP and PLAN_JSON; every run: script passes
// bash -n and shellcheck, and the token step, run on
// sample secrets, writes each token to fleet/tokens/NAME, mode 600, and
// refuses a name that is not a host name.
func TestGitopsWorkflow(t *testing.T) {
	docs, err := parseYAML(readFile(t, workflow))
	if err != nil {
		t.Fatalf("%s: %v", workflow, err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents", workflow, len(docs))
	}
	w := docs[0]
	if yget(w, "on", "pull_request") == nil {
		t.Error("the workflow does not run on pull_request")
	}
	if b, _ := yget(w, "on", "push", "branches").([]any); !slices.Contains(b, any("main")) {
		t.Errorf("on.push.branches is %v; want main in it", b)
	}
	jobs, _ := yget(w, "jobs").(map[string]any)
	if len(jobs) != 1 {
		t.Fatalf("want one job, found %v", jobs)
	}
	var job any
	for _, j := range jobs {
		job = j
	}
	if r, _ := yget(job, "runs-on").([]any); !slices.Contains(r, any("self-hosted")) {
		t.Errorf("runs-on is %v; the agents answer inside the fleet's network only, so want a self-hosted runner", yget(job, "runs-on"))
	}
	steps, _ := yget(job, "steps").([]any)
	var scripts []string
	var checkStep, tokenStep any
	for _, s := range steps {
		run, ok := yget(s, "run").(string)
		if !ok {
			continue
		}
		scripts = append(scripts, run)
		if strings.Contains(run, "ci/check.sh fleet/") {
			checkStep = s
		}
		if strings.Contains(run, "fleet/tokens/") {
			tokenStep = s
		}
		if sh := yget(s, "shell"); sh != "bash" {
			t.Errorf("step %q: shell %v; want bash (GitHub then runs it with -eo pipefail)", yget(s, "name"), sh)
		}
	}
	if checkStep == nil || tokenStep == nil {
		t.Fatalf("no step runs ci/check.sh fleet/ (%v) or writes fleet/tokens/ (%v)", checkStep != nil, tokenStep != nil)
	}
	for _, k := range []string{"LUCID_RDP", "PLAN_JSON"} {
		if yget(checkStep, "env", k) == nil {
			t.Errorf("the check step does not set %s", k)
		}
	}
	if len(scripts) < 3 {
		t.Fatalf("read only %d run: scripts", len(scripts))
	}
	for i, s := range scripts {
		if strings.Contains(s, "${{") {
			t.Errorf("run script %d puts a GitHub expression into the script; pass it through env:", i)
		}
		path := filepath.Join(t.TempDir(), "run.sh")
		if err := os.WriteFile(path, []byte("set -eo pipefail\n"+s), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("run script %d: bash -n: %v\n%s\n%s", i, err, out, s)
		}
		if _, err := exec.LookPath("shellcheck"); err != nil {
			testenv.Missing(t, "shellcheck is not installed")
		}
		if out, err := exec.Command("shellcheck", "-s", "bash", path).CombinedOutput(); err != nil {
			t.Errorf("run script %d: shellcheck: %v\n%s", i, err, out)
		}
	}

	tokens := yget(tokenStep, "run").(string)
	runTokens := func(secret string) (string, error) {
		dir := t.TempDir()
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", tokens)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LUCID_RDP_TOKENS="+secret)
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		return dir, err
	}
	dir, err := runTokens("pi-1 first-token\n\npi-2 second token\nagent shared\n")
	if err != nil {
		t.Fatalf("the token step: %v", err)
	}
	for name, want := range map[string]string{"pi-1": "first-token\n", "pi-2": "second token\n", "agent": "shared\n"} {
		p := filepath.Join(dir, "fleet", "tokens", name)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("the token step wrote no %s: %v", name, err)
			continue
		}
		if got := readFile(t, p); got != want || st.Mode().Perm() != 0o600 {
			t.Errorf("fleet/tokens/%s: %q, mode %04o; want %q, 0600", name, got, st.Mode().Perm(), want)
		}
	}
	if dir, err := runTokens("../escape x\n"); err == nil {
		t.Errorf("the token step accepted the name ../escape")
	} else if _, serr := os.Stat(filepath.Join(dir, "fleet", "escape")); serr == nil {
		t.Errorf("the token step wrote outside fleet/tokens")
	}
}

// TestNomadJob parses the Nomad job with HCL's own parser: a system job
// with a raw_exec task that runs `lucid-rdp agent -config DIR` on the
// checkout the pull unit keeps, LUCID_RDP_HOST set to the node's name, and
// the docker-only warning in the file and its README.
func TestNomadJob(t *testing.T) {
	src := readFile(t, nomadJob)
	f, diags := hclsyntax.ParseConfig([]byte(src), nomadJob, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	block := func(b *hclsyntax.Body, typ string) *hclsyntax.Block {
		t.Helper()
		var found []*hclsyntax.Block
		for _, bl := range b.Blocks {
			if bl.Type == typ {
				found = append(found, bl)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s: want one %s block, found %d", nomadJob, typ, len(found))
		}
		return found[0]
	}
	str := func(b *hclsyntax.Body, name string) string {
		t.Helper()
		a, ok := b.Attributes[name]
		if !ok {
			t.Fatalf("%s: no %s", nomadJob, name)
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.Type().FriendlyName() != "string" {
			t.Fatalf("%s: %s is not a literal string", nomadJob, name)
		}
		return v.AsString()
	}
	job := block(body, "job")
	if got := str(job.Body, "type"); got != "system" {
		t.Errorf("job type %q; want system (one agent per node)", got)
	}
	task := block(block(job.Body, "group").Body, "task")
	if got := str(task.Body, "driver"); got != "raw_exec" {
		t.Errorf("driver %q; want raw_exec", got)
	}
	cfg := block(task.Body, "config").Body
	if got := str(cfg, "command"); filepath.Base(got) != "lucid-rdp" {
		t.Errorf("command %q; want lucid-rdp", got)
	}
	argsV, diags := cfg.Attributes["args"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var args []string
	for _, v := range argsV.AsValueSlice() {
		args = append(args, v.AsString())
	}
	i := slices.Index(args, "-config")
	if len(args) == 0 || args[0] != "agent" || i < 0 || i+1 >= len(args) {
		t.Fatalf("args %q; want agent ... -config DIR", args)
	}
	checkCheckout(t, nomadJob, args[i+1])

	env := block(task.Body, "env").Body
	host, ok := env.Attributes["LUCID_RDP_HOST"]
	if !ok {
		t.Fatal("env sets no LUCID_RDP_HOST")
	}
	wrap, ok := host.Expr.(*hclsyntax.TemplateWrapExpr)
	if !ok {
		t.Fatalf("LUCID_RDP_HOST is not one interpolation, \"${node.unique.name}\"")
	}
	var parts []string
	for _, tr := range wrap.Wrapped.Variables() {
		parts = append(parts, tr.RootName())
		for _, step := range tr[1:] {
			if a, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, a.Name)
			}
		}
	}
	if got := strings.Join(parts, "."); got != "node.unique.name" {
		t.Errorf("LUCID_RDP_HOST = ${%s}; want ${node.unique.name}", got)
	}
	if got := str(task.Body, "kill_signal"); got != "SIGTERM" {
		t.Errorf("kill_signal %q; SIGTERM stops the agent alone", got)
	}
	checkCaveat(t, nomadJob, src, "nomad/README.md", "cgroup")
}

// checkCheckout fails unless dir, an agent's -config, is the checkout the
// pull unit (examples/systemd) keeps, or inside it.
func checkCheckout(t *testing.T, file, dir string) {
	t.Helper()
	u := readUnitFile(t, pullUnit)
	argv := strings.Fields(strings.Join(u["Service.ExecStart"], " "))
	i := slices.Index(argv, "-C")
	if i < 0 {
		t.Fatalf("%s: ExecStart has no git -C DIR", pullUnit)
	}
	if checkout := argv[i+1]; dir != checkout && !strings.HasPrefix(dir, checkout+"/") {
		t.Errorf("%s: -config %s is not the checkout %s that %s pulls", file, dir, checkout, pullUnit)
	}
}

// checkCaveat fails unless the file and its README say to run docker
// servers only, and the README says why (names the mechanism).
func checkCaveat(t *testing.T, file, src, readme, why string) {
	t.Helper()
	only := regexp.MustCompile(`(?i)docker servers only`)
	if !only.MatchString(src) {
		t.Errorf("%s does not warn to run docker servers only", file)
	}
	r := readFile(t, readme)
	if !only.MatchString(r) || !strings.Contains(r, why) || !strings.Contains(r, "examples/systemd") {
		t.Errorf("%s: want the docker-servers-only warning, why (%s), and examples/systemd for process servers", readme, why)
	}
}

// TestKubernetesDaemonSet reads the DaemonSet: hostNetwork and hostPID, the
// Docker socket, every hostPath at its own path, the agent on the pull
// unit's checkout, LUCID_RDP_HOST from spec.nodeName, root with SYS_ADMIN
// and SYS_PTRACE, a liveness probe on lucid-rdp health, and the warning.
func TestKubernetesDaemonSet(t *testing.T) {
	src := readFile(t, daemonSet)
	docs, err := parseYAML(src)
	if err != nil {
		t.Fatalf("%s: %v", daemonSet, err)
	}
	var ds any
	for _, d := range docs {
		if yget(d, "kind") == "DaemonSet" {
			ds = d
		}
	}
	if ds == nil {
		t.Fatalf("%s: no DaemonSet among %d documents", daemonSet, len(docs))
	}
	if v := yget(ds, "apiVersion"); v != "apps/v1" {
		t.Errorf("apiVersion %v; want apps/v1", v)
	}
	sel, _ := yget(ds, "spec", "selector", "matchLabels").(map[string]any)
	labels, _ := yget(ds, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the pod template's labels %v", k, v, labels)
		}
	}
	if len(sel) == 0 {
		t.Error("no spec.selector.matchLabels")
	}
	pod := yget(ds, "spec", "template", "spec")
	for _, k := range []string{"hostNetwork", "hostPID"} {
		if yget(pod, k) != "true" {
			t.Errorf("pod %s is %v; want true", k, yget(pod, k))
		}
	}
	containers, _ := yget(pod, "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("want one container, found %d", len(containers))
	}
	c := containers[0]

	var host any
	for _, e := range asList(yget(c, "env")) {
		if yget(e, "name") == "LUCID_RDP_HOST" {
			host = yget(e, "valueFrom", "fieldRef", "fieldPath")
		}
	}
	if host != "spec.nodeName" {
		t.Errorf("LUCID_RDP_HOST comes from %v; want valueFrom.fieldRef.fieldPath spec.nodeName", host)
	}

	// Volumes: every hostPath mounted at its own path, the socket among them.
	hostPaths := map[string]string{} // volume -> host path
	for _, v := range asList(yget(pod, "volumes")) {
		if p, ok := yget(v, "hostPath", "path").(string); ok {
			hostPaths[yget(v, "name").(string)] = p
		}
	}
	mounts := map[string]string{} // mount path -> host path
	for _, m := range asList(yget(c, "volumeMounts")) {
		name, _ := yget(m, "name").(string)
		at, _ := yget(m, "mountPath").(string)
		hp, ok := hostPaths[name]
		if !ok {
			t.Errorf("mount %s at %s: no hostPath volume of that name", name, at)
			continue
		}
		if hp != at {
			t.Errorf("volume %s: host path %s mounted at %s; the agent hands the engine host paths, so mount each at the same path", name, hp, at)
		}
		mounts[at] = hp
	}
	if _, ok := mounts["/var/run/docker.sock"]; !ok {
		t.Errorf("the Docker socket is not mounted (mounts: %v)", mounts)
	}

	args := asStrings(yget(c, "args"))
	i := slices.Index(args, "-config")
	if len(args) == 0 || args[0] != "agent" || i < 0 || i+1 >= len(args) {
		t.Fatalf("args %q; want agent ... -config DIR", args)
	}
	checkCheckout(t, daemonSet, args[i+1])
	inMount := false
	for at := range mounts {
		if args[i+1] == at || strings.HasPrefix(args[i+1], at+"/") {
			inMount = true
		}
	}
	if !inMount {
		t.Errorf("-config %s is in no hostPath mount", args[i+1])
	}

	sc := yget(c, "securityContext")
	if yget(sc, "runAsUser") != "0" {
		t.Errorf("runAsUser %v; the image runs as 65532, and sessions are read as root", yget(sc, "runAsUser"))
	}
	caps := asStrings(yget(sc, "capabilities", "add"))
	for _, want := range []string{"SYS_ADMIN", "SYS_PTRACE"} {
		if !slices.Contains(caps, want) {
			t.Errorf("capabilities.add %q lacks %s", caps, want)
		}
	}
	// The API server refuses this pair.
	if yget(sc, "allowPrivilegeEscalation") == "false" && slices.Contains(caps, "SYS_ADMIN") {
		t.Error("allowPrivilegeEscalation false with SYS_ADMIN is refused by Kubernetes")
	}

	probe := yget(c, "livenessProbe")
	cmd := asStrings(yget(probe, "exec", "command"))
	okExec := len(cmd) == 2 && filepath.Base(cmd[0]) == "lucid-rdp" && cmd[1] == "health"
	okHTTP := yget(probe, "httpGet", "path") == "/health"
	if !okExec && !okHTTP {
		t.Errorf("livenessProbe %v; want exec [lucid-rdp, health] or httpGet /health", probe)
	}
	checkCaveat(t, daemonSet, src, "kubernetes/README.md", "Docker Engine")
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// yget walks maps by key; nil when a key is missing or v is not a map.
func yget(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// parseYAML reads the documents of a YAML file, every scalar as the string
// it was written as (so a test compares what the file says, whatever type
// YAML would give it).
func parseYAML(src string) ([]any, error) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var docs []any
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, err
		}
		if v := yamlValue(&n); v != nil {
			docs = append(docs, v)
		}
	}
}

func yamlValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return yamlValue(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = yamlValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			l = append(l, yamlValue(c))
		}
		return l
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	}
	return n.Value
}
