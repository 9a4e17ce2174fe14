package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// DefaultFile is the spec file lucid-rdp reads when none is named.
const DefaultFile = "lucid-rdp.hcl"

// EnvConfig names the environment variable that overrides DefaultFile.
const EnvConfig = "LUCID_RDP_CONFIG"

// DefaultPath returns the spec path to use when the command line names none:
// $LUCID_RDP_CONFIG if set, else ./lucid-rdp.hcl.
func DefaultPath() string {
	if p := os.Getenv(EnvConfig); p != "" {
		return p
	}
	return DefaultFile
}

// Load reads and decodes the spec at path. On any error-severity diagnostic the
// returned Spec is nil; warnings come back alongside a usable Spec.
func Load(path string) (*Spec, hcl.Diagnostics) {
	src, err := ReadFile(path)
	if err != nil {
		detail := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			detail = fmt.Sprintf("There is no file at %s. Name one on the command line or set %s.", path, EnvConfig)
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec file",
			Detail:   detail,
			Subject:  &hcl.Range{Filename: path},
		}}
	}
	return Parse(path, src)
}

// Parse decodes src as a spec named filename. Relative paths in the spec resolve
// against filename's folder. On any error-severity diagnostic the returned Spec
// is nil.
func Parse(filename string, src []byte) (*Spec, hcl.Diagnostics) {
	return parse(filename, src, nil)
}

// ParseRequest is Parse for a spec that came from a request rather than from
// the operator's file (POST /v1/plan): it reads only the users files that
// mayRead allows, so that a request cannot have lucid-rdp read, and quote
// from, any file it likes.
func ParseRequest(filename string, src []byte, mayRead func(path string) bool) (*Spec, hcl.Diagnostics) {
	if mayRead == nil {
		mayRead = func(string) bool { return false }
	}
	return parse(filename, src, mayRead)
}

func parse(filename string, src []byte, mayRead func(string) bool) (*Spec, hcl.Diagnostics) {
	if diags := checkBounds(filename, src); diags.HasErrors() {
		return nil, diags
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	if shape := checkShape(file); shape.HasErrors() {
		return nil, shape
	}
	var raw fileBlock
	diags = append(diags, gohcl.DecodeBody(file.Body, nil, &raw)...)
	if diags.HasErrors() {
		return nil, diags
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		dir = filepath.Dir(filename)
	}
	b := &builder{dir: dir, spec: &Spec{Filename: filename, Dir: dir, Source: src}, mayRead: mayRead, request: mayRead != nil}
	b.build(&raw)
	diags = append(diags, b.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return b.spec, diags
}
