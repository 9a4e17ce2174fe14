package spec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags as text, compiler style: a first line
// "FILE:LINE:COLUMN: error: SUMMARY" that editors and grep understand, then the
// source line with the offending part underlined, then the detail wrapped to
// width. sources maps filenames to their bytes; a diagnostic about a file not
// in it is printed without its source line. color adds ANSI colours.
//
// At most MaxShownDiagnostics are printed, then "and N more"; the time taken
// grows linearly with the sources and the diagnostics printed.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, width uint, color bool) error {
	bw := bufio.NewWriter(w)
	more := 0
	if len(diags) > MaxShownDiagnostics {
		diags, more = diags[:MaxShownDiagnostics], len(diags)-MaxShownDiagnostics
	}
	lines := map[string]*lineIndex{}
	sourceLine := func(file string, n int) (string, bool) {
		ix, ok := lines[file]
		if !ok {
			ix = newLineIndex(sources[file])
			lines[file] = ix
		}
		return ix.line(n)
	}
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	for _, d := range diags {
		sev, code := "error", "1;31"
		if d.Severity == hcl.DiagWarning {
			sev, code = "warning", "1;33"
		}
		if r := d.Subject; r != nil && r.Filename != "" {
			if r.Start.Line > 0 {
				fmt.Fprintf(bw, "%s:%d:%d: ", r.Filename, r.Start.Line, r.Start.Column)
			} else {
				fmt.Fprintf(bw, "%s: ", r.Filename)
			}
		}
		fmt.Fprintf(bw, "%s %s\n", paint(code, sev+":"), paint("1", d.Summary))
		if r := d.Subject; r != nil && r.Start.Line > 0 {
			if line, ok := sourceLine(r.Filename, r.Start.Line); ok {
				num := strconv.Itoa(r.Start.Line)
				pad := strings.Repeat(" ", len(num))
				from := max(r.Start.Column-1, 0)
				to := len(line)
				if r.End.Line == r.Start.Line {
					to = min(max(r.End.Column-1, from+1), len(line))
				}
				if len(line) > maxSourceLine { // show a window around the place
					cut := max(0, min(from-maxSourceLine/2, len(line)-maxSourceLine))
					line = line[cut:min(len(line), cut+maxSourceLine)]
					from, to = max(from-cut, 0), min(max(to-cut, 0), len(line))
				}
				fmt.Fprintf(bw, " %s | %s\n", num, line)
				if from < len(line) {
					under := strings.Map(func(c rune) rune {
						if c == '\t' {
							return '\t'
						}
						return ' '
					}, line[:from]) + strings.Repeat("^", max(to-from, 1))
					fmt.Fprintf(bw, " %s | %s\n", pad, paint(code, under))
				}
			}
		}
		if d.Detail != "" {
			for _, l := range wrap(d.Detail, int(width)-2) {
				fmt.Fprintf(bw, "  %s\n", l)
			}
		}
		bw.WriteString("\n")
	}
	if more > 0 {
		fmt.Fprintf(bw, "and %d more\n", more)
	}
	return bw.Flush()
}

// MaxShownDiagnostics is how many diagnostics WriteDiagnostics prints; a
// broken edit can produce hundreds of thousands, and nobody reads past the
// first screens.
const MaxShownDiagnostics = 50

// maxSourceLine is the widest source excerpt a diagnostic shows.
const maxSourceLine = 160

// lineIndex finds a source's lines by number without scanning from the start
// each time.
type lineIndex struct {
	src    []byte
	starts []int // offset of each line's first byte
}

func newLineIndex(src []byte) *lineIndex {
	ix := &lineIndex{src: src, starts: []int{0}}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			ix.starts = append(ix.starts, i+1)
		}
	}
	if len(src) == 0 {
		ix.starts = nil
	}
	return ix
}

// line returns line n (1-based), without its newline.
func (ix *lineIndex) line(n int) (string, bool) {
	if n < 1 || n > len(ix.starts) {
		return "", false
	}
	line := ix.src[ix.starts[n-1]:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	return strings.TrimRight(string(line), "\r"), true
}

// wrap splits text into lines of at most width columns, at spaces.
func wrap(text string, width int) []string {
	if width < 20 {
		width = 20
	}
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		lines = append(lines, line)
	}
	return lines
}

// JSONPos is a position in a JSON diagnostic.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// JSONRange is the source range of a JSON diagnostic.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONDiagnostic is one diagnostic in `validate -json`.
type JSONDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *JSONRange `json:"range,omitempty"`
	// Hosts are the hosts of a fleet spec the diagnostic is about; left out
	// when it is about the spec as a whole, or the spec has no hosts.
	Hosts []string `json:"hosts,omitempty"`
}

// JSONResult is the whole `validate -json` document.
type JSONResult struct {
	Valid        bool             `json:"valid"`
	ErrorCount   int              `json:"error_count"`
	WarningCount int              `json:"warning_count"`
	Diagnostics  []JSONDiagnostic `json:"diagnostics"`
	// Omitted counts the diagnostics left out of a capped list.
	Omitted int `json:"omitted,omitempty"`
	// Hosts are the declared hosts of a fleet spec, in the order declared;
	// left out for a one-host spec, and when the spec does not parse.
	Hosts []JSONHost `json:"hosts,omitempty"`
}

// JSONHost is one host of a fleet spec in `validate -json`.
type JSONHost struct {
	// Name is the host's name.
	Name string `json:"name"`
	// Valid is whether the host's spec has no error.
	Valid bool `json:"valid"`
	// ErrorCount and WarningCount count the diagnostics about the host.
	ErrorCount   int `json:"error_count"`
	WarningCount int `json:"warning_count"`
	// Servers counts the host's servers (after count); 0 when not valid.
	Servers int `json:"servers"`
}

// DiagnosticsJSON renders diags in the shape `validate -json` prints.
func DiagnosticsJSON(diags hcl.Diagnostics) ([]byte, error) {
	return DiagnosticsJSONFirst(diags, len(diags))
}

// DiagnosticsJSONFirst is DiagnosticsJSON listing only the first n
// diagnostics (all are counted), for answers that must stay small.
func DiagnosticsJSONFirst(diags hcl.Diagnostics, n int) ([]byte, error) {
	return json.MarshalIndent(NewJSONResult(diags, n), "", "  ")
}

// NewJSONResult is the `validate -json` document of diags, listing the first
// n; a caller that validated a fleet adds its Hosts.
func NewJSONResult(diags hcl.Diagnostics, n int) JSONResult {
	res := JSONResult{Valid: !diags.HasErrors(), Diagnostics: []JSONDiagnostic{}}
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			res.WarningCount++
		} else {
			res.ErrorCount++
		}
	}
	if len(diags) > n {
		diags, res.Omitted = diags[:n], len(diags)-n
	}
	for _, d := range diags {
		jd := JSONDiagnostic{Summary: d.Summary, Detail: d.Detail, Severity: "error"}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			jd.Range = &JSONRange{
				Filename: d.Subject.Filename,
				Start:    JSONPos{Line: d.Subject.Start.Line, Column: d.Subject.Start.Column},
				End:      JSONPos{Line: d.Subject.End.Line, Column: d.Subject.End.Column},
			}
		}
		jd.Hosts = DiagnosticHosts(d)
		res.Diagnostics = append(res.Diagnostics, jd)
	}
	return res
}
