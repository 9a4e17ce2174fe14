package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as JSON (for a fleet spec, with a \"hosts\" list)")
	noColor := fs.Bool("no-color", false, "print without colour (also when $NO_COLOR is set)")
	help(fs, stderr, "validate [-json] [-no-color] [FILE|DIR]",
		fmt.Sprintf("Checks the spec FILE, or the folder DIR whose *.hcl files are one spec (default $%s\nor ./%s), and reports every problem with its file, line and field.\n"+
			"A fleet spec (one with host blocks) is checked for every host it declares, one line\nper host when valid; a problem of some hosts says which. Warnings are shown and do not fail.\n"+
			"Exit 0 when valid, 1 when not. Changes nothing.", spec.EnvConfig, spec.DefaultFile),
		"lucid-rdp validate",
		"lucid-rdp validate fleet/                    # every host of a fleet repository",
		"lucid-rdp validate -json /etc/lucid-rdp/lucid-rdp.hcl")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "lucid-rdp validate: takes at most one FILE or DIR")
		return exitError
	}
	path := spec.DefaultPath()
	if len(pos) == 1 {
		path = pos[0]
	}
	if msg := specMissing(path); msg != "" && !*asJSON {
		fmt.Fprintf(stderr, "lucid-rdp validate: %s\n", msg)
		return exitError
	}
	fleet, diags := spec.LoadFleet(path)
	var specs []*spec.Spec
	if fleet != nil {
		var more hcl.Diagnostics
		specs, more = fleet.ForAll()
		diags = append(diags, more...)
	}
	if *asJSON {
		res := spec.NewJSONResult(diags, len(diags))
		if fleet != nil && fleet.IsFleet() {
			res.Hosts = hostResults(fleet, specs, diags)
		}
		out, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp validate: %v\n", err)
			return exitError
		}
		fmt.Fprintln(stdout, string(out))
	} else {
		printDiagnostics(stderr, diags, path, colorWanted(*noColor))
		switch {
		case diags.HasErrors() && fleet != nil && fleet.IsFleet():
			var bad []string
			for _, h := range hostResults(fleet, specs, diags) {
				if !h.Valid {
					bad = append(bad, h.Name)
				}
			}
			fmt.Fprintf(stderr, "%s is not valid: errors on %s (%d of %d hosts).\n", path, strings.Join(bad, ", "), len(bad), len(fleet.Hosts))
		case diags.HasErrors():
		case fleet.IsFleet():
			fmt.Fprintf(stdout, "%s is valid: %s.\n", path, plural(len(specs), "host"))
			for _, s := range specs {
				fmt.Fprintf(stdout, "  %s: %s\n", s.Host, specSummary(s))
			}
		default:
			fmt.Fprintf(stdout, "%s is valid: %s.\n", path, specSummary(specs[0]))
		}
	}
	if diags.HasErrors() {
		return exitError
	}
	return exitOK
}

// specSummary counts what a spec holds: "2 servers, 1 port range, 0 alerts".
func specSummary(s *spec.Spec) string {
	return fmt.Sprintf("%s, %s, %s", plural(len(s.Servers), "server"), plural(len(s.PortRanges), "port range"), plural(len(s.Alerts), "alert"))
}

// hostResults is the hosts list of `validate -json` for a fleet: specs[i] is
// fleet.Hosts[i]'s spec, nil when it has errors.
func hostResults(fleet *spec.Fleet, specs []*spec.Spec, diags hcl.Diagnostics) []spec.JSONHost {
	out := make([]spec.JSONHost, len(fleet.Hosts))
	for i, h := range fleet.Hosts {
		r := spec.JSONHost{Name: h.Name, Valid: specs[i] != nil}
		if specs[i] != nil {
			r.Servers = len(specs[i].Servers)
		}
		for _, d := range diags {
			if !slices.Contains(spec.DiagnosticHosts(d), h.Name) {
				continue
			}
			if d.Severity == hcl.DiagError {
				r.ErrorCount++
			} else {
				r.WarningCount++
			}
		}
		out[i] = r
	}
	return out
}

// printDiagnostics writes diags as text with source lines, in colour when w is a
// terminal and color is allowed. The source lines come from the files the
// diagnostics name (the files of a spec folder), and from path.
func printDiagnostics(w io.Writer, diags hcl.Diagnostics, path string, color bool) {
	if len(diags) == 0 {
		return
	}
	sources := map[string][]byte{}
	names := []string{path}
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Filename != "" {
			names = append(names, d.Subject.Filename)
		}
	}
	for _, name := range names {
		if _, done := sources[name]; done {
			continue
		}
		if src, err := spec.ReadFile(name); err == nil {
			sources[name] = src
		} else {
			sources[name] = nil // a folder, or gone: no source lines
		}
	}
	width := uint(100)
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			width = uint(cols)
		}
	} else {
		color = false
	}
	_ = spec.WriteDiagnostics(w, diags, sources, width, color)
}

// plural writes "1 server" or "2 servers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
