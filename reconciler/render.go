package reconciler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// ANSI colours for plan output, as Terraform uses them.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// WriteText prints p for people, in the manner of `terraform plan`.
func (p *Plan) WriteText(w io.Writer, color bool) {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + reset
	}
	for _, prob := range p.Problems {
		fmt.Fprintf(w, "%s %s: %s\n", paint(bold+red, "Error:"), prob.Server, prob.Error)
	}
	if len(p.Problems) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "Note: %s: %s\n", n.Server, n.Note)
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w)
	}
	if p.Empty() && p.Waiting > 0 {
		waits := fmt.Sprintf("%d replaces wait", p.Waiting)
		if p.Waiting == 1 {
			waits = "1 replace waits"
		}
		fmt.Fprintf(w, "No changes now. %s for live sessions to end (see the notes above).\n", waits)
		return
	}
	if p.Empty() && len(p.Problems) > 0 {
		fmt.Fprintln(w, "No changes can be made now; the errors above say what stands in the way.")
		return
	}
	if p.Empty() {
		fmt.Fprintln(w, "No changes. This host matches lucid-rdp.hcl.")
		return
	}
	fmt.Fprintln(w, "lucid-rdp will perform the following actions:")
	fmt.Fprintln(w)
	for _, c := range p.Changes {
		var head, sym, col string
		switch c.Action {
		case Create:
			head, sym, col = "will be created", "  +", green
		case Replace:
			head, sym, col = "must be replaced", "-/+", yellow
		case Update:
			head, sym, col = "will be updated in place", "  ~", yellow
		case Delete:
			head, sym, col = "will be destroyed", "  -", red
		case Evict:
			head, sym, col = "will have idle sessions ended", "  ~", red
		case Drain:
			head, sym, col = "will be drained and destroyed", "  -", red
			if c.Then == Replace {
				head, sym, col = "will be drained, then replaced", "-/+", yellow
			}
		}
		comment := fmt.Sprintf("  # %s %s", c.Server, head)
		if c.Sessions > 0 {
			comment += fmt.Sprintf(" (%s)", describeSessions(c.Sessions))
		}
		fmt.Fprintln(w, paint(bold, comment))
		if c.Reason != "" && (c.Alert != "" || c.EndFor != "" || (c.Action != Replace && c.Action != Update)) {
			fmt.Fprintf(w, "  # (%s)\n", c.Reason)
		}
		fmt.Fprintf(w, "%s server %q {\n", paint(col, sym), c.Server)
		width := 0
		for _, d := range c.Diffs {
			width = max(width, len(d.Field))
		}
		for _, d := range c.Diffs {
			field := d.Field + strings.Repeat(" ", width-len(d.Field))
			switch {
			case d.Before == "":
				fmt.Fprintf(w, "      %s %s = %s\n", paint(green, "+"), field, d.After)
			default:
				line := fmt.Sprintf("      %s %s = %s -> %s", paint(yellow, "~"), field, d.Before, d.After)
				if d.ForcesReplacement {
					line += paint(red, " # forces replacement")
				}
				fmt.Fprintln(w, line)
			}
		}
		if (c.Action == Delete || (c.Action == Drain && c.Then == "")) && c.Before != nil {
			fmt.Fprintf(w, "      %s driver = %q\n", paint(red, "-"), c.Before.Driver)
			fmt.Fprintf(w, "      %s port   = %d\n", paint(red, "-"), c.Before.Config.Port)
			if c.Before.Driver == "docker" {
				fmt.Fprintf(w, "      # home: %s is kept\n", dockerHome(c.Before))
			}
		}
		for _, s := range c.End {
			fmt.Fprintf(w, "      %s\n", paint(red, "# ends "+DescribeSession(s)))
		}
		for _, s := range c.Live {
			fmt.Fprintf(w, "      # %s goes on%s\n", DescribeSession(s), fate(c))
		}
		fmt.Fprintln(w, "    }")
		fmt.Fprintln(w)
	}
	evict := ""
	if p.Summary.Evict > 0 {
		evict = fmt.Sprintf(", %s to end for alerts", describeSessions(p.Summary.Evict))
	}
	fmt.Fprintf(w, "%s %d to create, %d to replace, %d to update, %d to destroy%s.\n",
		paint(bold, "Plan:"), p.Summary.Create, p.Summary.Replace, p.Summary.Update, p.Summary.Delete, evict)
}

// dockerHome names where a docker server keeps /home, which removing the
// server never deletes: its host folder, or its volume.
func dockerHome(in *drivers.Instance) string {
	if in.Config.Home != "" {
		return "host folder " + in.Config.Home
	}
	return "volume " + drivers.HomeVolume(in.Name)
}

// JSON returns p in the `plan -json` format of DESIGN.md.
func (p *Plan) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // reasons read "13500 -> 13501", not "\u003e"
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DescribeSession names one session for people: whose, where, and from where.
func DescribeSession(s drivers.Session) string {
	who := s.User
	if who == "" {
		who = "an unknown user"
	}
	out := fmt.Sprintf("%s's session on display :%d", who, s.Display)
	if s.Client != "" {
		out += " (connected from " + s.Client + ")"
	} else {
		out += " (" + s.State + ")"
	}
	return out
}

// fate says what becomes of a live session that change c leaves running.
func fate(c Change) string {
	switch c.Action {
	case Replace:
		return ": only the listener restarts"
	case Drain:
		then := ""
		if c.Then == Replace {
			then = "; no new session starts meanwhile"
		}
		return fmt.Sprintf(" until it ends or drain_timeout (%s) passes%s", time.Duration(c.Before.Settings.DrainTimeout), then)
	case Create:
		return ": only the listener starts again"
	}
	return ""
}
