package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/drivers/process"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// hostDrivers wires the drivers this host offers. The docker driver joins when
// the spec has docker servers or an engine socket is there, so that a host
// without Docker never reports it down, and one with it always sees its
// containers (also the ones a spec no longer names).
//
// Process servers and docker servers in the host's network share one pool of
// sesman ports and X displays.
func hostDrivers(s *spec.Spec, log hclog.Logger) map[string]drivers.Driver {
	slots := &hostslots.Pool{}
	proc := process.New(s.Agent.StateDir, log)
	proc.UseSlots(slots)
	ds := map[string]drivers.Driver{process.Name: proc}
	wantDocker := os.Getenv("DOCKER_HOST") != ""
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		wantDocker = true
	}
	for _, srv := range s.Servers {
		wantDocker = wantDocker || srv.Driver == docker.Name
	}
	if wantDocker {
		d, err := docker.New(s.Agent.StateDir, log)
		if err != nil {
			log.Error("docker driver unavailable", "error", err)
		} else {
			d.UseSlots(slots)
			ds[docker.Name] = d
		}
	}
	return ds
}

// hostReconciler is the reconciler plan and apply use: this host's drivers,
// logging to stderr.
func hostReconciler(s *spec.Spec, stderr io.Writer) *reconciler.Reconciler {
	log := cliLogger(stderr)
	return &reconciler.Reconciler{Drivers: hostDrivers(s, log), Log: log}
}

func cliLogger(stderr io.Writer) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("LUCID_RDP_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: "lucid-rdp", Level: level, Output: stderr})
}

// loadSpec loads the spec or prints its diagnostics: this host's (spec.Load),
// or, when host is set, the part of a fleet spec that host NAME takes.
func loadSpec(path, host string, stderr io.Writer, color bool) (*spec.Spec, bool) {
	if msg := specMissing(path); msg != "" {
		fmt.Fprintf(stderr, "lucid-rdp: %s\n", msg)
		return nil, false
	}
	var s *spec.Spec
	var diags hcl.Diagnostics
	if host == "" {
		s, diags = spec.Load(path)
	} else {
		var fleet *spec.Fleet
		fleet, diags = spec.LoadFleet(path)
		if fleet != nil && !fleet.IsFleet() {
			printDiagnostics(stderr, diags, path, color)
			fmt.Fprintf(stderr, "lucid-rdp: -host %s: %s declares no hosts (no host blocks), so every host takes all of it; plan without -host.\n", host, path)
			return nil, false
		}
		if fleet != nil {
			var more hcl.Diagnostics
			s, more = fleet.For(strings.ToLower(host))
			diags = append(diags, more...)
		}
	}
	printDiagnostics(stderr, diags, path, color)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "lucid-rdp: %s is not valid; nothing was changed.\n", path)
		return nil, false
	}
	return s, true
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	config := fs.String("config", spec.DefaultPath(), "the spec: a `FILE`, or a folder of *.hcl files")
	host := fs.String("host", "", "plan as host `NAME` of a fleet spec would, from its part of the spec (for review: changes nothing; not with -out)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing would change, 2 when something would, 1 on error")
	out := fs.String("out", "", "save the plan to `PLAN`, for apply to carry out as shown")
	noColor := fs.Bool("no-color", false, "print without colour (also when $NO_COLOR is set)")
	help(fs, stderr, "plan [-config FILE|DIR] [-host NAME] [-json] [-detailed-exitcode] [-out PLAN] [-no-color]",
		"Shows what apply would change on this host, and the live sessions each change touches. Changes nothing.\n"+
			"A fleet spec (one with host blocks) is planned for this host: $"+spec.EnvHost+", else its host name.\n"+
			"-host NAME plans as host NAME would from its own part of the spec, against this machine's servers\n"+
			"and the state folder NAME's agent block names: to review an edit for another host. It changes nothing.",
		"lucid-rdp plan",
		"lucid-rdp plan -out next.plan && lucid-rdp apply next.plan",
		"lucid-rdp plan -json -detailed-exitcode   # in CI: exit 2 when something would change",
		"lucid-rdp plan -config fleet/ -host pi-2  # what pi-2's agent would do, were this machine pi-2")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "lucid-rdp plan: unexpected argument %q (use -config FILE)\n", pos[0])
		return exitError
	}
	if *host != "" && *out != "" {
		fmt.Fprintf(stderr, "lucid-rdp plan: -host plans for review only; a saved plan is carried out by apply on its own host, so -out does not go with it\n")
		return exitError
	}
	color := useColor(*noColor, stdout)
	s, ok := loadSpec(*config, *host, stderr, color)
	if !ok {
		return exitError
	}
	if !*asJSON {
		switch {
		case *host != "":
			fmt.Fprintf(stdout, "Planning as host %s of %s would, against this machine's state folder %s. Nothing is changed.\n\n", s.Host, *config, s.Agent.StateDir)
		case s.Host != "":
			fmt.Fprintf(stdout, "This is host %s of %s.\n\n", s.Host, *config)
		}
	}
	ctx, cancel := signalContext()
	defer cancel()
	r := hostReconciler(s, stderr)
	p, obs, err := r.Plan(ctx, s)
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp plan: %v\n", err)
		return exitError
	}
	if *asJSON {
		b, _ := p.JSON()
		fmt.Fprintln(stdout, string(b))
	} else {
		p.WriteText(stdout, color)
	}
	if *out != "" {
		abs, _ := filepath.Abs(*config)
		if err := reconciler.WritePlanFile(*out, &reconciler.SavedPlan{SpecPath: abs, Fingerprint: obs.Fingerprint(), Plan: p}); err != nil {
			fmt.Fprintf(stderr, "lucid-rdp plan: %v\n", err)
			return exitError
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "\nSaved the plan to %s. To carry it out: lucid-rdp apply %s\n", *out, *out)
		}
	}
	switch {
	case len(p.Problems) > 0:
		return exitError
	case *detailed && !p.Empty():
		return exitChanges
	}
	return exitOK
}

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	config := fs.String("config", "", "the spec: a `FILE`, or a folder of *.hcl files (default: the saved plan's, else $"+spec.EnvConfig+" or ./"+spec.DefaultFile+")")
	auto := fs.Bool("auto-approve", false, "apply without asking")
	noColor := fs.Bool("no-color", false, "print without colour (also when $NO_COLOR is set)")
	help(fs, stderr, "apply [-config FILE|DIR] [-auto-approve] [-no-color] [PLAN]",
		"Converges this host to the spec: shows the plan and asks first (on a terminal), or carries out a plan\nsaved by plan -out, refusing it when the spec or the host changed since.\n"+
			"A fleet spec (one with host blocks) is applied for this host: $"+spec.EnvHost+", else its host name.",
		"lucid-rdp apply",
		"lucid-rdp apply -auto-approve -config /etc/lucid-rdp/lucid-rdp.hcl",
		"lucid-rdp apply next.plan",
		"lucid-rdp apply -config /etc/lucid-rdp/fleet/   # this host's part of a fleet repository")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "lucid-rdp apply: takes at most one PLAN file")
		return exitError
	}
	color := useColor(*noColor, stdout)

	var saved *reconciler.SavedPlan
	if len(pos) == 1 {
		var err error
		if saved, err = reconciler.ReadPlanFile(pos[0]); err != nil {
			fmt.Fprintf(stderr, "lucid-rdp apply: %v\n", err)
			return exitError
		}
		// The plan names the spec it was made from, and only that spec can
		// carry it out; an operator is shown which one that is.
		if *config == "" {
			*config = saved.SpecPath
			fmt.Fprintf(stdout, "The plan was made from %s.\n", saved.SpecPath)
		} else if abs, err := filepath.Abs(*config); err != nil || abs != saved.SpecPath {
			fmt.Fprintf(stderr, "lucid-rdp apply: the plan was made from %s, not %s; nothing was changed\n", saved.SpecPath, *config)
			return exitError
		}
	}
	if *config == "" {
		*config = spec.DefaultPath()
	}
	s, ok := loadSpec(*config, "", stderr, color)
	if !ok {
		return exitError
	}
	ctx, cancel := signalContext()
	defer cancel()
	unlock, err := reconciler.Lock(s.Agent.StateDir)
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp apply: %v\n", err)
		return exitError
	}
	defer unlock()

	r := hostReconciler(s, stderr)
	var p *reconciler.Plan
	if saved != nil {
		obs, err := r.Observe(ctx, s)
		if err == nil {
			p, err = saved.CheckSaved(s, obs, time.Now())
		}
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp apply: %v\n", err)
			return exitError
		}
	} else {
		if p, _, err = r.Plan(ctx, s); err != nil {
			fmt.Fprintf(stderr, "lucid-rdp apply: %v\n", err)
			return exitError
		}
		p.WriteText(stdout, color)
		if !p.Empty() && !*auto {
			if !isTerminal(os.Stdin) {
				fmt.Fprintln(stderr, "lucid-rdp apply: not on a terminal, so there is nobody to approve the plan; run with -auto-approve, or save it with `plan -out` and `apply PLAN`.")
				return exitError
			}
			fmt.Fprint(stdout, "\nDo you want to perform these actions? Only 'yes' will be accepted: ")
			answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
			if strings.TrimSpace(answer) != "yes" {
				fmt.Fprintln(stdout, "Apply cancelled; nothing was changed.")
				return exitError
			}
		}
	}
	if p.Empty() {
		if len(p.Problems) > 0 {
			return exitError
		}
		return exitOK
	}
	res, err := r.Apply(ctx, s, p)
	fmt.Fprintln(stdout)
	draining, drainingFirst := 0, 0 // drains of removed servers, and drains before a replace
	for _, o := range res.Outcomes {
		c := o.Change
		why := "drain_timeout passed"
		if c.EndFor != "" {
			why = "evict_idle of alert " + c.EndFor
		}
		for _, ses := range o.Ended {
			fmt.Fprintf(stdout, "%s: ended %s: %s\n", c.Server, reconciler.DescribeSession(ses), why)
		}
		if o.Err != nil {
			fmt.Fprintf(stdout, "%s: %s failed: %v\n", c.Server, c.Action, o.Err)
			continue
		}
		done := map[reconciler.Action]string{reconciler.Create: "created", reconciler.Replace: "replaced",
			reconciler.Update: "updated", reconciler.Delete: "destroyed", reconciler.Drain: "draining", reconciler.Evict: "idle sessions ended"}[c.Action]
		switch {
		case o.Instance != nil:
			fmt.Fprintf(stdout, "%s: %s (%s %s, port %d)\n", c.Server, done, c.Driver, o.Instance.ID, o.Instance.Config.Port)
		case c.Action == reconciler.Drain && c.Then == reconciler.Replace:
			drainingFirst++
			fmt.Fprintf(stdout, "%s: draining before its replace; its %d live sessions go on\n", c.Server, c.Sessions)
		case c.Action == reconciler.Drain:
			draining++
			fmt.Fprintf(stdout, "%s: draining; its %d live sessions go on\n", c.Server, c.Sessions)
		default:
			fmt.Fprintf(stdout, "%s: %s\n", c.Server, done)
		}
	}
	failed := res.Failed()
	if err != nil {
		fmt.Fprintf(stderr, "lucid-rdp apply: %v\n", err)
		return exitError
	}
	if len(failed) > 0 || len(p.Problems) > 0 {
		fmt.Fprintf(stderr, "\nError: %d of %d servers failed:\n%v\n", len(failed)+len(p.Problems), len(p.Changes)+len(p.Problems), res.Err(p))
		return exitError
	}
	// A drain is counted with the destroys in a plan (it ends in one), but
	// after apply the server is still there: say so.
	fmt.Fprintf(stdout, "\nApply complete! Servers: %d created, %d replaced, %d updated, %d destroyed",
		p.Summary.Create, p.Summary.Replace-drainingFirst, p.Summary.Update, p.Summary.Delete-draining)
	if draining+drainingFirst > 0 {
		fmt.Fprintf(stdout, ", %d draining", draining+drainingFirst)
	}
	fmt.Fprintln(stdout, ".")
	return exitOK
}
