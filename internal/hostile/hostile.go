// Package hostile is the corpus of hostile specs that lucid-rdp must refuse
// quickly, in bounded memory, with a clear diagnostic, and without stalling
// the agent: small cases are files in spec/testdata/hostile, large ones are
// generated here. spec's tests parse each one, the integration tests POST
// each to a running agent and save each as its spec file, and FuzzParse
// starts from them.
package hostile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Case is one hostile spec and the diagnostic it must give.
type Case struct {
	Name string
	Src  []byte
	// Want is a piece of the first error diagnostic's summary or detail.
	Want string
}

// Load returns the corpus: every dir/*.hcl (whose first line is
// "# want: TEXT") followed by the generated cases, by name.
func Load(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		first, _, _ := bytes.Cut(src, []byte("\n"))
		want, ok := strings.CutPrefix(string(first), "# want: ")
		if !ok {
			return nil, fmt.Errorf("%s: the first line must be \"# want: TEXT\"", f)
		}
		out = append(out, Case{Name: strings.TrimSuffix(filepath.Base(f), ".hcl"), Src: src, Want: strings.TrimSpace(want)})
	}
	out = append(out, Generated()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Generated returns the cases too large to keep as files.
func Generated() []Case {
	return []Case{
		// The HCL parser recurses once per level: 240k levels overflowed the
		// stack of the agent that parsed them.
		{Name: "nested-parentheses", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  port = %s1%s\n}\n", strings.Repeat("(", 240000), strings.Repeat(")", 240000))},
		{Name: "nested-tuples", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  command = %s%s\n}\n", strings.Repeat("[", 100000), strings.Repeat("]", 100000))},
		{Name: "nested-objects", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  env = %s%s\n}\n", strings.Repeat("{a = ", 50000), strings.Repeat("}", 50000))},
		{Name: "nested-blocks", Want: "nested too deep",
			Src: fmt.Appendf(nil, "%s%s", strings.Repeat("server {\n", 40000), strings.Repeat("}\n", 40000))},
		{Name: "nested-templates", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  image = %s1%s\n}\n", strings.Repeat("\"${", 20000), strings.Repeat("}\"", 20000))},
		// Inside an interpolation and after a heredoc holding a quote: a
		// hand-written scanner that skipped strings missed both, and the
		// parser overflowed its stack.
		{Name: "nested-interpolation", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  image = \"${%s1%s}\"\n}\n", strings.Repeat("(", 100000), strings.Repeat(")", 100000))},
		{Name: "nested-after-heredoc", Want: "nested too deep",
			Src: fmt.Appendf(nil, "server \"a\" {\n  command = [<<EOT\nsay \"hi\nEOT\n  ]\n  port = %s1%s\n}\n", strings.Repeat("(", 100000), strings.Repeat(")", 100000))},
		// 4 MiB of comment (5 GB were read from /dev/zero before files had a limit).
		{Name: "too-large", Want: "Spec too large",
			Src: append([]byte("# "), bytes.Repeat([]byte("x"), 4<<20)...)},
		// The rest stay just under the size limit, to reach the parser.
		// 55k bad lines: the diagnostics must render in linear time, capped.
		{Name: "bad-lines", Want: "Unsupported argument", Src: badLines(28000)},
		{Name: "syntax-lines", Want: "Not an HCL file", Src: bytes.Repeat([]byte("@@@ !!! ###\n"), 40000)},
		// 900 stray characters: under the early refusal, each one a diagnostic.
		{Name: "syntax-some", Want: "Invalid character", Src: bytes.Repeat([]byte("@@@ !!! ###\n"), 300)},
		{Name: "many-servers", Want: "more than 1000 server blocks", Src: repeatBlocks(1001, "server \"s%d\" {\n  port = %d\n}\n", 20000)},
		{Name: "many-ranges", Want: "more than 256 port_range blocks", Src: repeatBlocks(7500, "port_range \"r%d\" {\n  from = %d\n  to = 60000\n}\n", 2000)},
		{Name: "many-alerts", Want: "more than 256 alert blocks", Src: repeatBlocks(7500, "alert \"a%d\" {\n  metric = \"host.cpu_percent\"\n  above = %d\n}\n", 1)},
		{Name: "long-name", Want: "Invalid server name", Src: fmt.Appendf(nil, "server %q {\n  port = 13500\n}\n", strings.Repeat("a", 512<<10-100))},
		{Name: "long-value", Want: "Value too long", Src: fmt.Appendf(nil, "server \"a\" {\n  port = 13500\n  security {\n    certificate = \"/%s\"\n    key = \"/k\"\n  }\n}\n", strings.Repeat("a", 512<<10-200))},
		{Name: "long-env", Want: "Too many elements", Src: longEnv(28000)},
	}
}

func badLines(n int) []byte {
	var b bytes.Buffer
	b.WriteString("server \"a\" {\n  port = 13500\n")
	for i := range n {
		fmt.Fprintf(&b, "  bogus_%d = 1\n", i)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// repeatBlocks writes n blocks from format, which takes the index and
// first+index.
func repeatBlocks(n int, format string, first int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, format, i, first+i)
	}
	return b.Bytes()
}

func longEnv(n int) []byte {
	var b bytes.Buffer
	b.WriteString("server \"a\" {\n  port = 13500\n  env = {\n")
	for i := range n {
		fmt.Fprintf(&b, "    V%d = \"x\"\n", i)
	}
	b.WriteString("  }\n}\n")
	return b.Bytes()
}
