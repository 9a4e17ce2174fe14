package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/reconciler/agent"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	config := fs.String("config", spec.DefaultPath(), "the spec: a `FILE`, or a folder of *.hcl files")
	logJSON := fs.Bool("log-json", false, "log as JSON lines")
	help(fs, stderr, "agent [-config FILE|DIR] [-log-json]",
		"Keeps this host converged to the spec as it changes, and serves the HTTP API\non agent.listen. SIGHUP reloads the spec; SIGTERM or SIGINT stops the agent\nand leaves every server and session running.\n"+
			"A fleet spec (one with host blocks) is kept for this host: $"+spec.EnvHost+", else its\nhost name; a host the spec does not declare is an error, never zero servers.",
		"lucid-rdp agent -config /etc/lucid-rdp/lucid-rdp.hcl",
		"lucid-rdp agent -config /srv/fleet/          # this host's part of a fleet repository",
		"LUCID_RDP_LOG_LEVEL=debug lucid-rdp agent -log-json")
	if _, code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if msg := specMissing(*config); msg != "" {
		fmt.Fprintf(stderr, "lucid-rdp agent: %s\n", msg)
		return exitError
	}
	level := hclog.LevelFromString(os.Getenv("LUCID_RDP_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "lucid-rdp", Level: level, JSONFormat: *logJSON, Output: stderr})
	path, err := filepath.Abs(*config)
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp agent: %v\n", err)
		return exitError
	}
	a, err := agent.New(agent.Config{SpecPath: path, Log: log, Version: version, Drivers: hostDrivers})
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp agent: %v\n", err)
		return exitError
	}
	ln, err := a.Listen()
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp agent: %v\n", err)
		return exitError
	}
	log.Info("agent started", "spec", path, "listen", ln.Addr().String(), "version", version)
	ctx, cancel := signalContext()
	defer cancel()
	if err := a.Run(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "lucid-rdp agent: %v\n", err)
		return exitError
	}
	return exitOK
}

// apiClient reaches a running agent.
type apiClient struct {
	addr, token string
}

func addAPIFlags(fs *flag.FlagSet) *apiClient {
	c := &apiClient{}
	def := os.Getenv("LUCID_RDP_ADDR")
	if def == "" {
		def = "http://" + spec.DefaultListen
	}
	fs.StringVar(&c.addr, "addr", def, "the agent's `URL` ($LUCID_RDP_ADDR)")
	fs.StringVar(&c.token, "token-file", "", "`FILE` holding the API bearer token (or set $LUCID_RDP_TOKEN)")
	return c
}

func (c *apiClient) get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(c.addr, "/")+path, nil)
	if err != nil {
		return err
	}
	token := os.Getenv("LUCID_RDP_TOKEN")
	if c.token != "" {
		if token, err = readTokenFile(c.token); err != nil {
			return err
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("no agent answers at %s (start one with `lucid-rdp agent`): %w", c.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// readTokenFile reads an API bearer token: the file's contents, without the
// white space around it.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	c := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "print the agent's status as JSON")
	help(fs, stderr, "status [-addr URL] [-token-file FILE] [-json]",
		"Shows the running agent's servers (state, port, sessions, CPU, memory, restarts, last error),\nthe spec in force and any edit it refused, and its alerts. Exit 1 when no agent answers.",
		"lucid-rdp status",
		"lucid-rdp status -addr http://10.0.0.5:8090 -token-file /etc/lucid-rdp/token -json")
	if _, code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	var st agent.Status
	if err := c.get("/v1/status", &st); err != nil {
		fmt.Fprintf(stderr, "lucid-rdp status: %v\n", err)
		return exitError
	}
	if *asJSON {
		return printJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "Spec:  %s\nHash:  %s\n", st.Spec.Path, st.Spec.Hash)
	if st.Spec.Revision != "" {
		fmt.Fprintf(stdout, "Revision: %s\n", st.Spec.Revision)
	}
	fmt.Fprintf(stdout, "Loaded: %s\n", st.Spec.LoadedAt.Local().Format(time.RFC3339))
	if st.Spec.Error != "" {
		at := ""
		if st.Spec.ErrorRevision != "" {
			at = " (revision " + st.Spec.ErrorRevision + ")"
		}
		fmt.Fprintf(stdout, "\nThe latest edit%s was NOT loaded; the spec above stays in force:\n%s\n", at, st.Spec.Error)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tDRIVER\tSTATE\tPORT\tSESSIONS\tCPU\tMEMORY\tRESTARTS\tLAST ERROR")
	for _, s := range st.Servers {
		sessions := fmt.Sprint(s.Sessions)
		if s.MaxSessions > 0 {
			sessions += fmt.Sprintf("/%d", s.MaxSessions)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.1f%%\t%s\t%d\t%s\n", s.Name, s.Driver, s.State, s.Port, sessions,
			s.CPUPercent, spec.FormatSize(int64(s.MemoryBytes)), s.Restarts, s.LastError)
	}
	tw.Flush()
	for _, s := range st.Servers {
		if s.Warning != "" {
			fmt.Fprintf(stdout, "\nWarning: %s: %s\n", s.Name, s.Warning)
		}
	}
	for _, s := range st.Servers {
		if len(s.SessionList) == 0 {
			continue
		}
		fmt.Fprintf(stdout, "\n%s:", s.Name)
		for _, ses := range s.SessionList {
			fmt.Fprintf(stdout, " %s on :%d (%s)", ses.User, ses.Display, ses.State)
		}
		fmt.Fprintln(stdout)
	}
	if len(st.Alerts) > 0 {
		fmt.Fprintln(stdout)
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ALERT\tMETRIC\tACTION\tSTATE\tSINCE\tSERIES")
		for _, a := range st.Alerts {
			since := ""
			if !a.Since.IsZero() {
				since = a.Since.Local().Format(time.RFC3339)
			}
			var series []string
			for _, se := range a.Series {
				name := se.Server + se.Range
				if name == "" {
					name = "host"
				}
				series = append(series, fmt.Sprintf("%s %s (%g)", name, se.State, se.Value))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Metric, a.Action, a.State, since, strings.Join(series, ", "))
		}
		tw.Flush()
	}
	return exitOK
}

func runSessions(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	c := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "print as JSON")
	help(fs, stderr, "sessions [-addr URL] [-token-file FILE] [-json]",
		"Lists the live sessions the running agent sees: server, user, display, state, client, since.\nExit 1 when no agent answers.",
		"lucid-rdp sessions",
		"lucid-rdp sessions -json")
	if _, code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	var ss []drivers.Session
	if err := c.get("/v1/sessions", &ss); err != nil {
		fmt.Fprintf(stderr, "lucid-rdp sessions: %v\n", err)
		return exitError
	}
	if *asJSON {
		return printJSON(stdout, ss)
	}
	if len(ss) == 0 {
		fmt.Fprintln(stdout, "No live sessions.")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tUSER\tDISPLAY\tSTATE\tCLIENT\tSINCE\tIDLE\tPID")
	for _, s := range ss {
		display, client, since, idle := "-", s.Client, "-", "?" // ?: the X server could not say (idle_source)
		if s.Display > 0 {
			display = fmt.Sprintf(":%d", s.Display)
		}
		if client == "" {
			client = "-"
		}
		if !s.StartedAt.IsZero() {
			since = s.StartedAt.Local().Format("2006-01-02 15:04:05")
		}
		if !strings.HasPrefix(s.IdleSource, "unknown") && s.IdleSource != "" {
			idle = time.Duration(s.Idle).Truncate(time.Second).String()
		}
		state := s.State
		if s.Orphan {
			state += " (orphan)" // its sesman is gone: nobody can reconnect to it
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.Server, s.User, display, state, client, since, idle, s.PID)
	}
	tw.Flush()
	return exitOK
}

// printJSON writes v as indented JSON for scripts.
func printJSON(w io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(w, "lucid-rdp: %v\n", err)
		return exitError
	}
	fmt.Fprintln(w, string(b))
	return exitOK
}
