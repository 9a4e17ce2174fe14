package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/textdiff"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	check := fs.Bool("check", false, "change nothing; list files that would change and exit 3 if any")
	diff := fs.Bool("diff", false, "print a unified diff of each change")
	help(fs, stderr, "fmt [-check] [-diff] [FILE|DIR|-]...",
		fmt.Sprintf("Rewrites specs in canonical layout (default $%s or ./%s).\nA folder means the *.hcl files a spec folder is read from (not those of folders in it,\nnor hidden or editors' temporary files); - reads standard input and writes standard output.", spec.EnvConfig, spec.DefaultFile),
		"lucid-rdp fmt",
		"lucid-rdp fmt -check -diff specs/   # in CI: exit 3 when a file would change")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		pos = []string{spec.DefaultPath()}
	}
	var files []string
	for _, p := range pos {
		if p == "-" {
			files = append(files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp fmt: %v\n", err)
			return exitError
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		matches, err := spec.SpecFiles(p)
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp fmt: %v\n", err)
			return exitError
		}
		files = append(files, matches...)
	}

	failed, changed := false, false
	for _, name := range files {
		var src []byte
		var err error
		if name == "-" {
			src, err = io.ReadAll(io.LimitReader(os.Stdin, spec.MaxSpecSize+1))
		} else {
			src, err = spec.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(stderr, "lucid-rdp fmt: %v\n", err)
			failed = true
			continue
		}
		out, diags := spec.Format(name, src)
		if diags.HasErrors() {
			printDiagnostics(stderr, diags, name, true)
			failed = true
			continue
		}
		if name == "-" && !*check && !*diff {
			_, _ = stdout.Write(out)
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = true
		if name != "-" {
			fmt.Fprintln(stdout, name)
		}
		if *diff {
			fmt.Fprint(stdout, textdiff.Unified(name, name+" (formatted)", src, out))
		}
		if !*check && name != "-" {
			if err := writeFileKeepMode(name, out); err != nil {
				fmt.Fprintf(stderr, "lucid-rdp fmt: %v\n", err)
				failed = true
			}
		}
	}
	switch {
	case failed:
		return exitError
	case *check && changed:
		return exitFmt
	}
	return exitOK
}

// writeFileKeepMode replaces name with data atomically, keeping its mode.
func writeFileKeepMode(name string, data []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	return atomicfile.Write(name, data, st.Mode().Perm())
}
