// Command lucid-rdp keeps a host's xrdp servers as lucid-rdp.hcl declares them.
//
// This package holds flags and subcommands only; the work is done in spec/,
// reconciler/ and drivers/.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitError   = 1 // a failure, an invalid spec, or bad usage
	exitChanges = 2 // plan -detailed-exitcode: changes present
	exitFmt     = 3 // fmt -check: a file would change
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"validate", "Check a spec and report every problem with its file and line", runValidate},
		{"fmt", "Rewrite specs in canonical layout", runFmt},
		{"plan", "Show what apply would change on this host", runPlan},
		{"apply", "Converge this host to the spec", runApply},
		{"agent", "Keep this host converged as the spec changes", runAgent},
		{"fleet", "Review a fleet spec against every host's agent (plan, targets)", runFleet},
		{"status", "Show the agent's servers and alerts", runStatus},
		{"sessions", "List live sessions", runSessions},
		{"health", "Check that the agent answers: exit 0 if so, 1 if not", runHealth},
		{"version", "Print the version", runVersion},
		{"completion", "Print a bash or zsh completion script", runCompletion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if args[0] == "-version" || args[0] == "--version" {
		return runVersion(nil, stdout, stderr)
	}
	fmt.Fprintf(stderr, "lucid-rdp: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: lucid-rdp <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'lucid-rdp <command> -h' for a command's flags.\n")
}

// help makes fs's -h say how to call the command (synopsis), what it does
// (about), its flags, and examples.
func help(fs *flag.FlagSet, w io.Writer, synopsis, about string, examples ...string) {
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: lucid-rdp %s\n\n%s\n", synopsis, about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		if len(examples) > 0 {
			fmt.Fprintln(w, "\nExamples:")
			for _, e := range examples {
				fmt.Fprintf(w, "  %s\n", e)
			}
		}
	}
}

// useColor reports whether output to w gets colour: a terminal, unless
// -no-color or $NO_COLOR (https://no-color.org) says otherwise.
func useColor(noColor bool, w io.Writer) bool {
	return colorWanted(noColor) && isTerminal(w)
}

// colorWanted is whether -no-color and $NO_COLOR allow colour.
func colorWanted(noColor bool) bool { return !noColor && os.Getenv("NO_COLOR") == "" }

// specMissing says what to do when no spec file is at path, or "" when
// something is there.
func specMissing(path string) string {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	return fmt.Sprintf("no spec file at %s. Write one (this repository's lucid-rdp.hcl is a small example, and README.md lists every setting), "+
		"or name another with -config FILE or $%s.", path, spec.EnvConfig)
}

// parseFlags parses args with fs, allowing flags after positional arguments
// (`validate FILE -json`), and returns the positional ones. ok is false when the
// caller should return code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (pos []string, code int, ok bool) {
	fs.SetOutput(stderr)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitError, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	help(fs, stderr, "version", "Prints lucid-rdp's version, the commit it was built from, its Go version and platform.",
		"lucid-rdp version")
	if _, code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	fmt.Fprintf(stdout, "lucid-rdp %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
