package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	noColor := fs.Bool("no-color", false, "print without colour (also when $NO_COLOR is set)")
	help(fs, stderr, "validate [-json] [-no-color] [FILE]",
		fmt.Sprintf("Checks FILE (default $%s or ./%s) and reports every problem with its file, line and field.\nExit 0 when valid, 1 when not. Changes nothing.", spec.EnvConfig, spec.DefaultFile),
		"lucid-rdp validate",
		"lucid-rdp validate -json /etc/lucid-rdp/lucid-rdp.hcl")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "lucid-rdp validate: takes at most one FILE")
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
	s, diags := spec.Load(path)
	if *asJSON {
		out, err := spec.DiagnosticsJSON(diags)
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp validate: %v\n", err)
			return exitError
		}
		fmt.Fprintln(stdout, string(out))
	} else {
		printDiagnostics(stderr, diags, path, colorWanted(*noColor))
		if s != nil {
			fmt.Fprintf(stdout, "%s is valid: %s, %s, %s.\n", path,
				plural(len(s.Servers), "server"), plural(len(s.PortRanges), "port range"), plural(len(s.Alerts), "alert"))
		}
	}
	if diags.HasErrors() {
		return exitError
	}
	return exitOK
}

// printDiagnostics writes diags as text with source lines, in colour when w is a
// terminal and color is allowed.
func printDiagnostics(w io.Writer, diags hcl.Diagnostics, path string, color bool) {
	if len(diags) == 0 {
		return
	}
	sources := map[string][]byte{}
	if src, err := spec.ReadFile(path); err == nil {
		sources[path] = src
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
