package spec

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on what a spec may be, checked before the expensive work: a spec
// comes from a file anyone with write access to its folder can edit, and from
// POST /v1/plan.
const (
	// MaxSpecSize is the largest spec file, in bytes. A spec of 1,000 servers
	// written out one block each is about 100 KiB; parsing costs up to about
	// 400 bytes of allocation per byte of source.
	MaxSpecSize = 512 << 10
	// MaxNesting is the deepest nesting of brackets, braces and parentheses:
	// the HCL parser recurses once per level.
	MaxNesting = 64
	// MaxServers is the most servers a spec may hold after count expansion.
	MaxServers = 1000
	// MaxBlocks is the most port_range, alert or notify blocks a spec may
	// hold, of each kind (server blocks are bounded by MaxServers). A spec of
	// several files, or of a fleet, holds them all together.
	MaxBlocks = 256
	// MaxHosts is the most host blocks a fleet spec may hold.
	MaxHosts = 1000
	// MaxCollection is the most elements of one list or map (env, command,
	// servers globs).
	MaxCollection = 256
	// MaxValueLength is the longest string lucid-rdp renders into a config
	// file or hands to the engine (paths, image, env values, command words).
	MaxValueLength = 4096
	// MaxParallelism bounds agent.parallelism.
	MaxParallelism = 256
	// MaxSessionsPerServer bounds sessions.max: a process server's sessions
	// take X displays from one block inside 100-999.
	MaxSessionsPerServer = 500
	// MinResync is the shortest agent.resync.
	MinResync = time.Second
)

// systemDirs are folders lucid-rdp must never take for its state: it writes
// its lock, records and configs there, and removes servers' folders.
var systemDirs = map[string]bool{
	"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true,
	"/lib64": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true, "/srv": true,
	"/sys": true, "/tmp": true, "/usr": true, "/var": true, "/var/lib": true, "/var/tmp": true,
}

// unsafeStateDir says why dir must not be the state folder, or "".
func unsafeStateDir(dir string) string {
	clean := filepath.Clean(dir)
	for _, pseudo := range []string{"/proc", "/sys", "/dev"} {
		if clean == pseudo || strings.HasPrefix(clean, pseudo+"/") {
			return "it is inside " + pseudo + "; name a folder of lucid-rdp's own, such as \"/var/lib/lucid-rdp\"."
		}
	}
	if systemDirs[clean] {
		return "a system folder; name a folder of lucid-rdp's own, such as \"/var/lib/lucid-rdp\"."
	}
	st, err := os.Stat(clean)
	if err != nil {
		return "" // made (0700) when lucid-rdp first needs it
	}
	if !st.IsDir() {
		return "it is not a folder."
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("others may write to it (mode %04o), and could plant records lucid-rdp acts on as root; chmod go-w it.", st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Sprintf("it belongs to uid %d, not to the user lucid-rdp runs as (%d).", sys.Uid, os.Geteuid())
	}
	return ""
}

// badTokenFile says why path cannot hold the API's bearer token, or "".
func badTokenFile(path string) string {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return err.Error() + "; write the token into it (and chmod 600 it)."
	case !st.Mode().IsRegular():
		return "it is not a regular file."
	case st.Size() == 0:
		return "it is empty; write the token into it."
	case st.Mode().Perm()&0o004 != 0:
		return fmt.Sprintf("anyone on the host may read it (mode %04o); chmod o-r it.", st.Mode().Perm())
	}
	return ""
}

// ReadFile reads the spec at path: a regular file (not a device, FIFO or
// folder, which could be read forever) of at most MaxSpecSize bytes.
func ReadFile(path string) ([]byte, error) {
	return readRegular(path, MaxSpecSize)
}

// readRegular reads the regular file at path, of at most limit bytes. It opens
// without blocking and checks the open file, so that a FIFO or device put in
// the file's place, even between a check and the read, is refused rather than
// read forever.
func readRegular(path string, limit int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	src, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(src) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, the limit", path, limit)
	}
	return src, nil
}

// checkBounds returns a diagnostic when src is too large or nested too deep
// to parse safely. It scans once, skipping strings and comments.
func checkBounds(filename string, src []byte) hcl.Diagnostics {
	at := func(line, col int) *hcl.Range {
		p := hcl.Pos{Line: line, Column: col}
		return &hcl.Range{Filename: filename, Start: p, End: p}
	}
	if len(src) > MaxSpecSize {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Spec too large",
			Detail: fmt.Sprintf("The spec is %d bytes; the limit is %d (%d KiB).", len(src), MaxSpecSize, MaxSpecSize>>10), Subject: at(1, 1)}}
	}
	// One pass, no allocation per token (HCL's own lexer would allocate a
	// few hundred bytes per bracket of a hostile file): a stack of the
	// contexts HCL nests (code, quoted strings, heredocs, and ${...} or
	// %{...} inside the two), so that brackets inside an interpolation count
	// and brackets inside strings and comments do not.
	type frame struct {
		kind   byte // 'c' code, 'q' quoted string, 'h' heredoc
		braces int  // open braces of a code frame, to tell its closing brace
		marker []byte
	}
	stack := []frame{{kind: 'c'}}
	depth, line, lineStart := 0, 1, 0
	stray, strayLine, strayCol := 0, 0, 0
	deeper := func(i int) hcl.Diagnostics {
		if depth++; depth <= MaxNesting {
			return nil
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Spec nested too deep",
			Detail:  fmt.Sprintf("Brackets, braces, parentheses, strings and interpolations nest more than %d deep here; a spec never needs that many.", MaxNesting),
			Subject: at(line, i-lineStart+1)}}
	}
	at2 := func(i int) byte { // src[i], or 0 past the end
		if i < len(src) {
			return src[i]
		}
		return 0
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			line, lineStart = line+1, i+1
		}
		top := &stack[len(stack)-1]
		switch top.kind {
		case 'c':
			switch {
			case c == '#' || (c == '/' && at2(i+1) == '/'):
				for i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
			case c == '/' && at2(i+1) == '*':
				for i += 2; i < len(src) && !(src[i] == '*' && at2(i+1) == '/'); i++ {
					if src[i] == '\n' {
						line, lineStart = line+1, i+1
					}
				}
				i++
			case c == '"':
				stack = append(stack, frame{kind: 'q'})
				if d := deeper(i); d != nil {
					return d
				}
			case c == '<' && at2(i+1) == '<':
				j := i + 2
				if at2(j) == '-' {
					j++
				}
				k := j
				for k < len(src) && (src[k] == '_' || src[k] == '-' || src[k] >= '0' && src[k] <= '9' || src[k]|0x20 >= 'a' && src[k]|0x20 <= 'z') {
					k++
				}
				if k == j || at2(k) != '\n' {
					break // not a heredoc: the parser says what it is
				}
				stack = append(stack, frame{kind: 'h', marker: src[j:k]})
				if d := deeper(i); d != nil {
					return d
				}
				i = k - 1 // the newline is counted by the loop
			case c == '(' || c == '[':
				if d := deeper(i); d != nil {
					return d
				}
			case c == '{':
				top.braces++
				if d := deeper(i); d != nil {
					return d
				}
			case c == ')' || c == ']':
				depth--
			case c == '}':
				depth--
				if top.braces > 0 {
					top.braces--
				} else if len(stack) > 1 {
					stack = stack[:len(stack)-1] // the end of an interpolation
				}
			case c == '@' || c == '`' || c == '\'' || c == ';' || c == '^' || c == '~' || c == '\\' || (c < 0x20 && c != '\t' && c != '\r' && c != '\n'):
				// Never HCL outside strings and comments: each costs the
				// parser a diagnostic, and a file of them is not a spec.
				if stray++; stray == 1 {
					strayLine, strayCol = line, i-lineStart+1
				}
			}
		case 'q', 'h':
			switch {
			case top.kind == 'h' && i == lineStart && bytes.Equal(bytes.TrimLeft(lineAt(src, i), " \t"), top.marker):
				stack = stack[:len(stack)-1]
				depth--
				i += len(lineAt(src, i)) - 1
			case top.kind == 'q' && c == '\\':
				i++
			case top.kind == 'q' && (c == '"' || c == '\n'): // a quoted string ends at its line's end
				stack = stack[:len(stack)-1]
				depth--
			case (c == '$' || c == '%') && at2(i+1) == c && at2(i+2) == '{':
				i += 2 // $${ and %%{ are literal
			case (c == '$' || c == '%') && at2(i+1) == '{':
				stack = append(stack, frame{kind: 'c'})
				if d := deeper(i); d != nil {
					return d
				}
				i++
			}
		}
	}
	if stray > MaxStrayCharacters {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not an HCL file",
			Detail:  fmt.Sprintf("The file holds %d characters that HCL does not use outside strings and comments (such as @, ; or `), the first here; it is not a lucid-rdp spec.", stray),
			Subject: at(strayLine, strayCol)}}
	}
	return nil
}

// lineAt returns src from i to the end of its line, without the newline.
func lineAt(src []byte, i int) []byte {
	line := src[i:]
	if n := bytes.IndexByte(line, '\n'); n >= 0 {
		line = line[:n]
	}
	return bytes.TrimRight(line, "\r")
}

// MaxStrayCharacters is how many characters that HCL never uses outside
// strings and comments a file may hold before it is refused unparsed.
const MaxStrayCharacters = 1000

// checkShape refuses a parsed file with more blocks of a kind, or a longer
// list or map, than the limits allow, before decoding it: decoding and
// validation cost grows with each, and none needs so many. count holds the
// blocks of each kind counted so far: the files of one spec share it.
func checkShape(file *hcl.File, count map[string]int) hcl.Diagnostics {
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	limit := map[string]int{"server": MaxServers, "port_range": MaxBlocks, "alert": MaxBlocks, "notify": MaxBlocks, "host": MaxHosts}
	for _, blk := range body.Blocks {
		count[blk.Type]++
		if max, ok := limit[blk.Type]; ok && count[blk.Type] == max+1 {
			r := blk.DefRange()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many " + blk.Type + " blocks",
				Detail: fmt.Sprintf("The spec holds more than %d %s blocks, the limit.", max, blk.Type), Subject: &r})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		items := 0
		switch e := n.(type) {
		case *hclsyntax.ObjectConsExpr:
			items = len(e.Items)
		case *hclsyntax.TupleConsExpr:
			items = len(e.Exprs)
		}
		if items > MaxCollection && len(diags) < 10 {
			r := n.Range()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many elements",
				Detail: fmt.Sprintf("This list or map has %d elements; the limit is %d.", items, MaxCollection), Subject: &r})
		}
		return nil
	})
	return diags
}
