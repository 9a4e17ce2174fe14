package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/loopdial"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// runFleet runs the commands that work on a whole fleet spec from where it
// is reviewed (a laptop, CI), not on a host: plan and targets.
func runFleet(args []string, stdout, stderr io.Writer) int {
	const synopsis = "Usage: lucid-rdp fleet plan|targets [flags]\n\n" +
		"  plan     Send a fleet spec folder to every host's agent and show what each would change\n" +
		"  targets  Print the hosts' agents as a Prometheus file_sd target list\n\n" +
		"Run 'lucid-rdp fleet <command> -h' for a command's flags.\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, synopsis)
		return exitError
	}
	switch args[0] {
	case "plan":
		return runFleetPlan(args[1:], stdout, stderr)
	case "targets":
		return runFleetTargets(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, synopsis)
		return exitOK
	}
	fmt.Fprintf(stderr, "lucid-rdp fleet: unknown command %q\n\n%s", args[0], synopsis)
	return exitError
}

// HostPlan is one host's part of `fleet plan -json`.
type HostPlan struct {
	Host    string `json:"host"`
	Address string `json:"address,omitempty"`
	// Revision is the Git commit of the spec the host's agent runs now.
	Revision string `json:"revision,omitempty"`
	// SpecChanged: the host's part of the spec differs from the one its
	// agent runs, also when no server changes (an alert, a limit).
	SpecChanged bool             `json:"spec_changed"`
	Plan        *reconciler.Plan `json:"plan,omitempty"`
	// Error says why the host has no plan: no address, no answer, a refusal.
	Error string `json:"error,omitempty"`
}

// FleetSummary totals a fleet plan.
type FleetSummary struct {
	Hosts     int `json:"hosts"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	reconciler.Summary
}

// FleetPlan is the `fleet plan -json` document.
type FleetPlan struct {
	FormatVersion string       `json:"format_version"`
	Hosts         []HostPlan   `json:"hosts"`
	Summary       FleetSummary `json:"summary"`
}

func runFleetPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet plan", flag.ContinueOnError)
	config := fs.String("config", spec.DefaultPath(), "the fleet spec `DIR`: a folder of *.hcl files with host blocks (or one such file)")
	asJSON := fs.Bool("json", false, "print the plans as one JSON document")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when no host would change, 2 when one would, 1 on any error")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each host's agent has to answer")
	only := fs.String("hosts", "", "plan only these hosts: `NAMES`, comma-separated (default: every host)")
	noColor := fs.Bool("no-color", false, "print without colour (also when $NO_COLOR is set)")
	help(fs, stderr, "fleet plan [-config DIR] [-json] [-detailed-exitcode] [-timeout D] [-hosts NAMES] [-no-color]",
		"Sends the spec folder, as it is here, to every host's agent (the address of its host block, with the\n"+
			"bearer token of its token_file) and shows what each would change: the plan of POST /v1/plan, which\n"+
			"changes nothing. Hosts are asked in parallel, each within -timeout. The folder is checked first, for\n"+
			"every host, and nothing is sent when it is not valid. A host that does not answer, or whose agent is\n"+
			"not the host its block names, is an error, never skipped: the exit status is then 1.",
		"lucid-rdp fleet plan -config fleet/",
		"lucid-rdp fleet plan -config fleet/ -json -detailed-exitcode   # in CI: exit 2 when a host would change",
		"lucid-rdp fleet plan -config fleet/ -hosts pi-1,pi-2")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "lucid-rdp fleet plan: unexpected argument %q (use -config DIR)\n", pos[0])
		return exitError
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "lucid-rdp fleet plan: -timeout must be more than 0")
		return exitError
	}
	color := useColor(*noColor, stdout)
	fleet, files, ok := loadFleet(*config, "fleet plan", stderr, color)
	if !ok {
		return exitError
	}
	hosts := fleet.Hosts
	if *only != "" {
		hosts = nil
		for _, name := range strings.Split(*only, ",") {
			h := fleet.Host(strings.ToLower(strings.TrimSpace(name)))
			if h == nil {
				fmt.Fprintf(stderr, "lucid-rdp fleet plan: -hosts: %s declares no host %q (it declares %s)\n", *config, name, strings.Join(fleet.HostNames(), ", "))
				return exitError
			}
			hosts = append(hosts, h)
		}
	}
	body, contentType, err := folderBody(files)
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp fleet plan: %v\n", err)
		return exitError
	}
	ctx, cancel := signalContext()
	defer cancel()
	res := FleetPlan{FormatVersion: "1", Hosts: make([]HostPlan, len(hosts))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16) // hosts asked at once
	for i, h := range hosts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res.Hosts[i] = planHost(ctx, h, body, contentType, *timeout)
		})
	}
	wg.Wait()
	res.Summary = summarize(res.Hosts)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(res)
	} else {
		writeFleetPlan(stdout, *config, res, color)
	}
	switch {
	case res.Summary.Failed > 0:
		return exitError
	case *detailed && res.Summary.Changed > 0:
		return exitChanges
	}
	return exitOK
}

// loadFleet reads and checks a fleet spec for every host, printing its
// diagnostics; ok is false (and the reason printed) when it is not valid or
// declares no hosts.
func loadFleet(path, cmd string, stderr io.Writer, color bool) (*spec.Fleet, []spec.File, bool) {
	if msg := specMissing(path); msg != "" {
		fmt.Fprintf(stderr, "lucid-rdp: %s\n", msg)
		return nil, nil, false
	}
	files, err := spec.ReadFiles(path)
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp %s: %v\n", cmd, err)
		return nil, nil, false
	}
	fleet, diags := spec.ParseFleet(path, files)
	if fleet != nil {
		_, more := fleet.ForAll()
		diags = append(diags, more...)
	}
	printDiagnostics(stderr, diags, path, color)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "lucid-rdp %s: %s is not valid; nothing was sent to any host.\n", cmd, path)
		return nil, nil, false
	}
	if !fleet.IsFleet() {
		fmt.Fprintf(stderr, "lucid-rdp %s: %s declares no hosts; a fleet spec names each host in a host block (see docs/fleet.md).\n", cmd, path)
		return nil, nil, false
	}
	return fleet, files, true
}

// folderBody is the multipart/form-data body POST /v1/plan reads a folder
// from: a part per file, named by its name in the folder.
func folderBody(files []spec.File) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", filepath.Base(f.Name))
		if err != nil {
			return nil, "", err
		}
		if _, err := w.Write(f.Src); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// planHost asks h's agent for the plan of the folder in body, and for the
// spec it runs now, within timeout.
func planHost(ctx context.Context, h *spec.Host, body []byte, contentType string, timeout time.Duration) HostPlan {
	hp := HostPlan{Host: h.Name, Address: h.Address}
	if h.Address == "" {
		hp.Error = "its host block has no address, so its agent cannot be asked"
		return hp
	}
	token := ""
	if h.TokenFile != "" {
		var err error
		if token, err = readTokenFile(h.TokenFile); err != nil {
			hp.Error = fmt.Sprintf("token_file: %v", err)
			return hp
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DialContext: loopdial.Dial}}
	defer client.CloseIdleConnections()
	call := func(method, path string, body []byte, contentType string, v any) error {
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.Address, "/")+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return answerError(err, timeout)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return refusal(resp, h)
		}
		return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v)
	}
	var st struct {
		Spec struct {
			Hash, Host, Revision string
		}
	}
	if err := call(http.MethodGet, "/v1/status", nil, "", &st); err != nil {
		hp.Error = err.Error()
		return hp
	}
	hp.Revision = st.Spec.Revision
	var p reconciler.Plan
	if err := call(http.MethodPost, "/v1/plan", body, contentType, &p); err != nil {
		hp.Error = err.Error()
		return hp
	}
	if p.Host != h.Name {
		as := "a one-host spec"
		if p.Host != "" {
			as = "host " + p.Host
		}
		hp.Error = fmt.Sprintf("the agent at %s planned as %s, not as %s: set %s=%s in its environment, or correct the address", h.Address, as, h.Name, spec.EnvHost, h.Name)
		return hp
	}
	hp.Plan = &p
	hp.SpecChanged = p.SpecHash != st.Spec.Hash
	return hp
}

// answerError says in one line why a host did not answer.
func answerError(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within %s", timeout)
	case errors.Is(err, context.Canceled):
		return errors.New("interrupted")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused: no agent listens there")
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("no answer: %w", uerr.Err)
	}
	return fmt.Errorf("no answer: %w", err)
}

// refusal says why an agent answered other than 200: the spec's diagnostics
// (400), a wrong token (401), or the agent's own words.
func refusal(resp *http.Response, h *spec.Host) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if h.TokenFile == "" {
			return errors.New("the agent wants a token (401): give the host block a token_file")
		}
		return fmt.Errorf("the agent refused the token of %s (401)", h.TokenFile)
	case http.StatusBadRequest:
		var res spec.JSONResult
		if json.Unmarshal(b, &res) == nil && len(res.Diagnostics) > 0 {
			var lines []string
			for _, d := range res.Diagnostics {
				at := ""
				if d.Range != nil {
					at = fmt.Sprintf("%s:%d: ", filepath.Base(d.Range.Filename), d.Range.Start.Line)
				}
				lines = append(lines, fmt.Sprintf("%s%s: %s", at, d.Summary, d.Detail))
			}
			return fmt.Errorf("the agent refused the spec: %s", strings.Join(lines, "; "))
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return fmt.Errorf("the agent answered %s: %s", resp.Status, line)
}

func summarize(hosts []HostPlan) FleetSummary {
	sum := FleetSummary{Hosts: len(hosts)}
	for _, h := range hosts {
		switch {
		case h.Error != "" || (h.Plan != nil && len(h.Plan.Problems) > 0):
			sum.Failed++
		case !h.Plan.Empty() || h.SpecChanged:
			sum.Changed++
		default:
			sum.Unchanged++
		}
		if h.Plan != nil {
			sum.Create += h.Plan.Summary.Create
			sum.Replace += h.Plan.Summary.Replace
			sum.Update += h.Plan.Summary.Update
			sum.Delete += h.Plan.Summary.Delete
			sum.Evict += h.Plan.Summary.Evict
		}
	}
	return sum
}

func writeFleetPlan(w io.Writer, path string, res FleetPlan, color bool) {
	bold, red, reset := "", "", ""
	if color {
		bold, red, reset = "\x1b[1m", "\x1b[31m", "\x1b[0m"
	}
	fmt.Fprintf(w, "Fleet plan of %s for %s. Nothing is changed.\n", path, plural(len(res.Hosts), "host"))
	for _, h := range res.Hosts {
		fmt.Fprintln(w)
		head := "host " + h.Host
		if h.Address != "" {
			head += " (" + h.Address
			if h.Revision != "" {
				head += ", runs " + shortRevision(h.Revision)
			}
			head += ")"
		}
		fmt.Fprintf(w, "%s%s%s\n", bold, head, reset)
		if h.Error != "" {
			fmt.Fprintf(w, "%sError:%s %s\n", red, reset, h.Error)
			continue
		}
		if h.Plan.Empty() && len(h.Plan.Problems) == 0 && h.Plan.Waiting == 0 {
			if h.SpecChanged {
				fmt.Fprintln(w, "No server changes. Its part of the spec changes in settings that touch no server (alerts, limits, the agent block).")
			} else {
				fmt.Fprintln(w, "No changes. Its part of the spec is the one it runs.")
			}
			continue
		}
		h.Plan.WriteText(w, color)
	}
	s := res.Summary
	fmt.Fprintf(w, "\n%sFleet:%s %s: %d to change, %d unchanged, %d failed. Servers: %d to create, %d to replace, %d to update, %d to destroy.\n",
		bold, reset, plural(s.Hosts, "host"), s.Changed, s.Unchanged, s.Failed, s.Create, s.Replace, s.Update, s.Delete)
}

// shortRevision is a commit as `git log --oneline` shows it.
func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// FileSDGroup is one target group of a Prometheus file_sd file.
type FileSDGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

func runFleetTargets(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet targets", flag.ContinueOnError)
	config := fs.String("config", spec.DefaultPath(), "the fleet spec `DIR`: a folder of *.hcl files with host blocks (or one such file)")
	out := fs.String("o", "", "write to `FILE` (atomically, for Prometheus to pick up) instead of standard output")
	help(fs, stderr, "fleet targets [-config DIR] [-o FILE]",
		"Prints every host's agent as a Prometheus file_sd target list (JSON): the host:port of its address,\n"+
			"labelled host=NAME and with the host block's labels. Hosts without an address are left out, and\n"+
			"named on standard error. Point a file_sd_configs job at the file (examples/prometheus/fleet.yml).",
		"lucid-rdp fleet targets -config fleet/ -o /etc/prometheus/lucid-rdp-targets.json")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "lucid-rdp fleet targets: unexpected argument %q (use -config DIR)\n", pos[0])
		return exitError
	}
	fleet, _, ok := loadFleet(*config, "fleet targets", stderr, false)
	if !ok {
		return exitError
	}
	groups := []FileSDGroup{}
	for _, h := range fleet.Hosts {
		if h.Address == "" {
			fmt.Fprintf(stderr, "lucid-rdp fleet targets: host %s has no address; left out\n", h.Name)
			continue
		}
		u, err := url.Parse(h.Address)
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp fleet targets: host %s: %v\n", h.Name, err)
			return exitError
		}
		labels := maps.Clone(h.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["host"] = h.Name
		if u.Scheme == "https" {
			labels["__scheme__"] = "https"
		}
		groups = append(groups, FileSDGroup{Targets: []string{u.Host}, Labels: labels})
	}
	b, _ := json.MarshalIndent(groups, "", "  ")
	b = append(b, '\n')
	if *out == "" {
		_, _ = stdout.Write(b)
		return exitOK
	}
	if err := atomicfile.Replace(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "lucid-rdp fleet targets: %v\n", err)
		return exitError
	}
	return exitOK
}
