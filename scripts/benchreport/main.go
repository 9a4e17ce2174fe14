// Command benchreport turns the output of `make bench` (go test -bench lines
// with custom metrics) into one table, printed and written with a plot to
// docs/performance.md and docs/performance.svg.
//
//	go run ./scripts/benchreport -in bench.out -md docs/performance.md -svg docs/performance.svg -cmd "make bench"
//
// It reads only what the benchmarks report (b.ReportMetric units and the
// standard ns/op, B/op, allocs/op), so a figure in the table is always one
// measured in the run it names.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// metrics maps a benchmark's name (without the -N suffix) to its figures by
// unit.
type metrics map[string]map[string]float64

func parse(r io.Reader) metrics {
	out := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := out[name]
		if m == nil {
			m = map[string]float64{}
			out[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
	}
	return out
}

// row is one line of the table.
type row struct {
	what       string
	ours, peer string // measured figures, as shown
	ratio      float64
	hasRatio   bool
	goal       string
	met        bool
	measured   bool
}

func (m metrics) get(bench, unit string) (float64, bool) {
	v, ok := m[bench][unit]
	return v, ok
}

func msf(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }

// rows builds the table from what was measured; a figure that is missing
// (its benchmark skipped: a peer not installed, not root) is shown as such.
func rows(m metrics) []row {
	var out []row
	// versus adds a row of ours against a peer; goal 0: shown for
	// comparison, with no goal of its own.
	versus := func(what, bench, ours, peer, ratio, peerName string, goal float64) {
		r := row{what: what, goal: fmt.Sprintf("ratio <= %.2g", goal)}
		if goal == 0 {
			r.goal = "-"
		}
		o, ok1 := m.get(bench, ours)
		p, ok2 := m.get(bench, peer)
		q, ok3 := m.get(bench, ratio)
		if ok1 && ok2 && ok3 {
			r.ours, r.peer, r.ratio, r.hasRatio, r.measured = msf(o), peerName+" "+msf(p), q, true, true
			r.met = goal == 0 || q <= goal
		}
		out = append(out, r)
	}
	versus("converge 20 process servers", "BenchmarkVsSupervisord", "lucid-converge-ms", "supervisord-converge-ms", "converge-ratio", "supervisord", 0.5)
	versus("no-op, 20 process servers", "BenchmarkVsSupervisord", "lucid-noop-apply-ms", "supervisord-noop-ms", "noop-apply-ratio", "supervisorctl update", 0.25)
	{
		r := row{what: "kill -9 -> answering again", goal: "<= 100 ms"}
		if k, ok := m.get("BenchmarkAgent", "kill9-restore-ms"); ok {
			sv, _ := m.get("BenchmarkAgent", "supervisord-kill9-restore-ms")
			q, _ := m.get("BenchmarkAgent", "kill9-ratio")
			r.ours, r.peer, r.ratio, r.hasRatio, r.measured, r.met = msf(k), "supervisord autorestart "+msf(sv), q, true, true, k <= 100
		}
		out = append(out, r)
	}
	versus(`converge 20 containers, network = "host"`, "BenchmarkVsDockerCompose", "lucid-converge-ms", "compose-converge-ms", "converge-ratio", "docker-compose up -d", 0.4)
	versus(`converge 20 containers, network = "bridge" (the default)`, "BenchmarkVsDockerCompose", "lucid-bridge-converge-ms", "compose-converge-ms", "bridge-converge-ratio", "docker-compose up -d", 0)
	versus("no-op, 20 containers", "BenchmarkVsDockerCompose", "lucid-noop-ms", "compose-noop-ms", "noop-ratio", "docker-compose up -d", 0.25)
	{
		r := row{what: "one server edited in a spec of 50 -> converged", goal: "<= 150 ms"}
		if e, ok := m.get("BenchmarkAgent", "edit-converge-ms"); ok {
			r.ours, r.measured, r.met = msf(e), true, e <= 150
		}
		out = append(out, r)
	}
	{
		r := row{what: "idle agent, 50 servers: CPU, RSS", goal: "<= 1% of a core, <= 40 MiB"}
		c, ok1 := m.get("BenchmarkAgent", "idle-cpu-percent")
		rss, ok2 := m.get("BenchmarkAgent", "idle-rss-MiB")
		if ok1 && ok2 {
			r.ours, r.measured, r.met = fmt.Sprintf("%.2f%%, %.1f MiB", c, rss), true, c <= 1 && rss <= 40
		}
		out = append(out, r)
	}
	{
		// The goal is how much it reads, whatever the count; ss, which
		// lists every socket once, is there for scale.
		r := row{what: "one look at sessions, 50 servers / 100 sessions", goal: "2 socket tables read"}
		o, ok1 := m.get("BenchmarkSessionsPass", "ms/look")
		p, ok2 := m.get("BenchmarkSessionsPass", "ms/ss")
		q, ok3 := m.get("BenchmarkSessionsPass", "ratio")
		tables, ok4 := m.get("BenchmarkSessionsPass", "tables/look")
		if ok1 && ok2 && ok3 && ok4 {
			r.ours, r.peer, r.ratio, r.hasRatio, r.measured, r.met = fmt.Sprintf("%s, %.0f tables", msf(o), tables), "ss -tanxp "+msf(p), q, true, true, tables <= 2
		}
		out = append(out, r)
	}
	for _, n := range []string{"100", "1000", "10000"} {
		r := row{what: "planner, " + n + " servers", goal: "-"}
		if n == "10000" {
			r.goal = "<= 100 ms, <= 100 MiB"
		}
		ns, ok1 := m.get("BenchmarkMakePlan/servers="+n, "ns/op")
		bytes, ok2 := m.get("BenchmarkMakePlan/servers="+n, "B/op")
		allocs, _ := m.get("BenchmarkMakePlan/servers="+n, "allocs/op")
		if ok1 && ok2 {
			r.ours = fmt.Sprintf("%.2f ms, %.1f MiB, %.0f allocs", ns/1e6, bytes/(1<<20), allocs)
			r.measured = true
			r.met = n != "10000" || (ns/1e6 <= 100 && bytes/(1<<20) <= 100)
		}
		out = append(out, r)
	}
	return out
}

func table(w io.Writer, rs []row) {
	fmt.Fprintln(w, "| measure | lucid-rdp | peer (same run) | ratio | goal | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		if !r.measured {
			fmt.Fprintf(w, "| %s | not measured (skipped) | | | %s | |\n", r.what, r.goal)
			continue
		}
		ratio, mark := "", "met"
		if r.hasRatio {
			ratio = strconv.FormatFloat(r.ratio, 'f', 2, 64)
		}
		if !r.met {
			mark = "**missed**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.ours, r.peer, ratio, r.goal, mark)
	}
}

// svg draws each measured ratio as a bar, with the goal as a line where the
// goal is a ratio: lower is better.
func svg(w io.Writer, rs []row) {
	var bars []row
	for _, r := range rs {
		if r.measured && r.hasRatio {
			bars = append(bars, r)
		}
	}
	const left, width, barH, gap = 330, 420, 22, 12
	maxv := 1.0
	for _, r := range bars {
		maxv = max(maxv, r.ratio)
	}
	h := 50 + len(bars)*(barH+gap)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", left+width+80, h)
	fmt.Fprintf(w, `<text x="10" y="20" font-weight="bold">lucid-rdp / peer, same run (lower is better; | = goal)</text>`+"\n")
	x := func(v float64) float64 { return left + v/maxv*width }
	fmt.Fprintf(w, `<line x1="%.1f" y1="30" x2="%.1f" y2="%d" stroke="#999" stroke-dasharray="3,3"/><text x="%.1f" y="%d" fill="#666">1.0</text>`+"\n", x(1), x(1), h-10, x(1)-8, h-1)
	for i, r := range bars {
		y := 35 + i*(barH+gap)
		colour := "#2a7"
		if !r.met {
			colour = "#c33"
		}
		fmt.Fprintf(w, `<text x="10" y="%d">%s</text>`+"\n", y+16, html.EscapeString(r.what))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, x(r.ratio)-left, barH, colour)
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%.2f</text>`+"\n", x(r.ratio)+4, y+16, r.ratio)
		if g, ok := goalRatio(r.goal); ok {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-width="2"/>`+"\n", x(g), y-3, x(g), y+barH+3)
		}
	}
	fmt.Fprintln(w, "</svg>")
}

func goalRatio(goal string) (float64, bool) {
	s, ok := strings.CutPrefix(goal, "ratio <= ")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// machine names the host the figures were measured on.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
			}
		}
	}
	osName := "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s, %s/%s", model, runtime.NumCPU(), mem, osName, runtime.GOOS, runtime.GOARCH)
}

func main() {
	in := flag.String("in", "", "the benchmarks' output")
	md := flag.String("md", "", "write the report here (Markdown)")
	svgOut := flag.String("svg", "", "write the plot here (SVG)")
	cmd := flag.String("cmd", "make bench", "the command that measured")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	m := parse(f)
	f.Close()
	rs := rows(m)
	table(os.Stdout, rs)
	if *svgOut != "" {
		out, err := os.Create(*svgOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		svg(out, rs)
		out.Close()
	}
	if *md != "" {
		out, err := os.Create(*md)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "# Performance\n\nMeasured %s on %s with `%s` (each figure and its peer in the same run; medians where a benchmark repeats). The peers (supervisord, docker-compose) are Debian's packages, installed by `scripts/setup.sh bench`. A row says \"not measured\" when its benchmark skipped (a peer missing, or not root).\n\n",
			time.Now().UTC().Format("2006-01-02"), machine(), *cmd)
		table(out, rs)
		if *svgOut != "" {
			fmt.Fprintf(out, "\n![ratios against the peers](%s)\n", "performance.svg")
		}
		fmt.Fprintln(out, "\nHow each is measured:\n\n"+
			"- **converge / no-op, process servers**: `lucid-rdp apply` of 20 xrdp listeners from nothing until each answers RDP, and again with nothing to do, against supervisord starting the same 20 (`supervisorctl update`), median of the rounds (`BenchmarkVsSupervisord`).\n"+
			"- **kill -9**: a listener killed by `kill -9` until a new one answers RDP, with the agent on 50 servers, against supervisord's `autorestart` (`BenchmarkAgent`).\n"+
			"- **containers**: 20 containers of one image up from nothing until each answers RDP, and a no-op, `lucid-rdp apply` against `docker-compose up -d` with published ports (`BenchmarkVsDockerCompose`). lucid-rdp runs them with `network = \"host\"` (the goal's row and the no-op) and with the default `network = \"bridge\"`, whose ports the engine publishes as compose's: host networking skips the bridge and userland proxy the engine sets up per container, one after another.\n"+
			"- **edit -> converged**: one server's port changed in a spec of 50, from the file's rename to the new listener answering (`BenchmarkAgent`).\n"+
			"- **idle**: the agent's CPU time over 30 s with nothing to do, and its resident memory (`BenchmarkAgent`).\n"+
			"- **one look at sessions**: what a pass reads to list 50 servers' 100 sessions, against `ss -tanxp` (`BenchmarkSessionsPass`).\n"+
			"- **planner**: the pure planner, per plan, with allocations (`BenchmarkMakePlan`).")
		out.Close()
	}
}
