package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
)

// commandFlags are each command's flags, for completion. TestCompletionFlags
// keeps them equal to what each command's -h lists.
var commandFlags = map[string][]string{
	"validate":   {"-json", "-no-color"},
	"fmt":        {"-check", "-diff"},
	"plan":       {"-config", "-detailed-exitcode", "-host", "-json", "-no-color", "-out"},
	"apply":      {"-auto-approve", "-config", "-no-color"},
	"agent":      {"-config", "-log-json"},
	"status":     {"-addr", "-json", "-token-file"},
	"sessions":   {"-addr", "-json", "-token-file"},
	"health":     {"-addr"},
	"fleet":      {},
	"version":    {},
	"completion": {},
}

// subcommandFlags are the flags of the commands that have subcommands, by
// command and subcommand.
var subcommandFlags = map[string]map[string][]string{
	"fleet": {
		"plan":    {"-config", "-detailed-exitcode", "-hosts", "-json", "-no-color", "-timeout"},
		"targets": {"-config", "-o"},
	},
}

// fileFlags take a file name.
var fileFlags = []string{"-config", "-o", "-out", "-token-file"}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	help(fs, stderr, "completion bash|zsh",
		"Prints a script that completes lucid-rdp's commands, flags and files in your shell.",
		"source <(lucid-rdp completion bash)                 # this bash; add it to ~/.bashrc to keep it",
		"lucid-rdp completion bash > /etc/bash_completion.d/lucid-rdp",
		`lucid-rdp completion zsh > "${fpath[1]}/_lucid-rdp"  # then start a new zsh`)
	usage := fs.Usage
	if len(args) != 1 {
		usage()
		return exitError
	}
	switch args[0] {
	case "bash":
		writeBash(stdout)
	case "zsh":
		writeZsh(stdout)
	case "-h", "-help", "--help":
		usage()
	default:
		fmt.Fprintf(stderr, "lucid-rdp completion: no completion for %q; choose bash or zsh\n", args[0])
		return exitError
	}
	return exitOK
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func writeBash(w io.Writer) {
	fmt.Fprintln(w, "# bash completion for lucid-rdp: source <(lucid-rdp completion bash)")
	fmt.Fprintln(w, "_lucid_rdp() {")
	fmt.Fprintln(w, `  local cur prev cmd`)
	fmt.Fprintln(w, `  cur="${COMP_WORDS[COMP_CWORD]}"`)
	fmt.Fprintln(w, `  prev="${COMP_WORDS[COMP_CWORD-1]}"`)
	fmt.Fprintln(w, `  cmd="${COMP_WORDS[1]}"`)
	fmt.Fprintln(w, `  if [ "$COMP_CWORD" -eq 1 ]; then`)
	fmt.Fprintf(w, "    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(commandNames(), " "))
	fmt.Fprintln(w, "    return")
	fmt.Fprintln(w, "  fi")
	fmt.Fprintln(w, `  case "$prev" in`)
	fmt.Fprintf(w, "  %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(fileFlags, "|"))
	fmt.Fprintln(w, `  -addr|-host|-hosts|-timeout) return ;;`)
	fmt.Fprintln(w, "  esac")
	fmt.Fprintln(w, `  case "$cmd" in`)
	for _, name := range commandNames() {
		if subs, ok := subcommandFlags[name]; ok {
			fmt.Fprintf(w, "  %s) if [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", name, strings.Join(slices.Sorted(maps.Keys(subs)), " "))
			fmt.Fprintln(w, `    case "${COMP_WORDS[2]}" in`)
			for _, sub := range slices.Sorted(maps.Keys(subs)) {
				fmt.Fprintf(w, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", sub, strings.Join(subs[sub], " "))
			}
			fmt.Fprintln(w, "    esac ;;")
			continue
		}
		words := strings.Join(commandFlags[name], " ")
		if name == "completion" {
			words = "bash zsh"
		}
		fmt.Fprintf(w, "  %s) COMPREPLY=($(compgen -W %q -- \"$cur\"))", name, words)
		switch name {
		case "validate", "fmt", "apply":
			fmt.Fprint(w, "; COMPREPLY+=($(compgen -f -- \"$cur\"))")
		}
		fmt.Fprintln(w, " ;;")
	}
	fmt.Fprintln(w, "  esac")
	fmt.Fprintln(w, "}")
	fmt.Fprintln(w, "complete -F _lucid_rdp lucid-rdp")
}

func writeZsh(w io.Writer) {
	fmt.Fprintln(w, "#compdef lucid-rdp")
	fmt.Fprintln(w, "# zsh completion for lucid-rdp: lucid-rdp completion zsh > \"${fpath[1]}/_lucid-rdp\"")
	fmt.Fprintln(w, "_lucid-rdp() {")
	fmt.Fprintln(w, "  local -a commands")
	fmt.Fprintln(w, "  commands=(")
	for _, c := range commands() {
		fmt.Fprintf(w, "    %q\n", c.name+":"+c.summary)
	}
	fmt.Fprintln(w, "  )")
	fmt.Fprintln(w, "  if (( CURRENT == 2 )); then")
	fmt.Fprintln(w, "    _describe 'command' commands")
	fmt.Fprintln(w, "    return")
	fmt.Fprintln(w, "  fi")
	fmt.Fprintln(w, "  case $words[2] in")
	names := commandNames()
	sort.Strings(names)
	for _, name := range names {
		if subs, ok := subcommandFlags[name]; ok {
			// After the subcommand, complete as if it were the command.
			fmt.Fprintf(w, "    %s) if (( CURRENT == 3 )); then compadd %s; return; fi\n", name, strings.Join(slices.Sorted(maps.Keys(subs)), " "))
			fmt.Fprintln(w, "      shift 2 words; (( CURRENT -= 2 ))")
			fmt.Fprintln(w, "      case $words[1] in")
			for _, sub := range slices.Sorted(maps.Keys(subs)) {
				fmt.Fprintf(w, "      %s) _arguments %s ;;\n", sub, strings.Join(zshSpecs(subs[sub]), " "))
			}
			fmt.Fprintln(w, "      esac ;;")
			continue
		}
		specs := zshSpecs(commandFlags[name])
		switch name {
		case "validate", "fmt", "apply":
			specs = append(specs, "'*:file:_files'")
		case "completion":
			specs = append(specs, "'1:shell:(bash zsh)'")
		}
		fmt.Fprintf(w, "    %s) _arguments %s ;;\n", name, strings.Join(specs, " "))
	}
	fmt.Fprintln(w, "  esac")
	fmt.Fprintln(w, "}")
	fmt.Fprintln(w, `_lucid-rdp "$@"`)
}

// zshSpecs are _arguments specs for flags: those that take a value say
// which kind.
func zshSpecs(flags []string) []string {
	var specs []string
	for _, f := range flags {
		s := "'" + f
		for _, ff := range fileFlags {
			if f == ff {
				s += "+:file:_files"
			}
		}
		switch f {
		case "-addr":
			s += "+:url:"
		case "-host", "-hosts":
			s += "+:host:"
		case "-timeout":
			s += "+:duration:"
		}
		specs = append(specs, s+"'")
	}
	return specs
}
