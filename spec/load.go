package spec

import (
	"os"

	"github.com/hashicorp/hcl/v2"
)

// DefaultFile is the spec lucid-rdp reads when none is named.
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

// Load reads and decodes the spec at path, a file or a folder of *.hcl files
// (ReadFiles), for this machine: a fleet spec (one with host blocks) resolves
// to ThisHost, a one-host spec is taken whole. On any error-severity
// diagnostic the returned Spec is nil; warnings come back alongside a usable
// Spec.
func Load(path string) (*Spec, hcl.Diagnostics) {
	f, diags := LoadFleet(path)
	if f == nil {
		return nil, diags
	}
	s, more := f.ForThisHost()
	return s, append(diags, more...)
}

// Parse decodes src as a spec named filename, for this machine, as Load does.
// Relative paths in the spec resolve against filename's folder. On any
// error-severity diagnostic the returned Spec is nil.
func Parse(filename string, src []byte) (*Spec, hcl.Diagnostics) {
	return ParseFiles(filename, []File{{Name: filename, Src: src}})
}

// ParseFiles decodes files, read from path by ReadFiles, as one spec for this
// machine, as Load does.
func ParseFiles(path string, files []File) (*Spec, hcl.Diagnostics) {
	return parseThisHost(path, files, nil)
}

// ParseRequest is Parse for a spec that came from a request rather than from
// the operator's file (POST /v1/plan): it reads only the users files that
// mayRead allows, so that a request cannot have lucid-rdp read, and quote
// from, any file it likes.
func ParseRequest(filename string, src []byte, mayRead func(path string) bool) (*Spec, hcl.Diagnostics) {
	return ParseRequestFiles(filename, []File{{Name: filename, Src: src}}, mayRead)
}

// ParseRequestFiles is ParseRequest for a spec of several files, a folder
// sent whole (lucid-rdp fleet plan): path names the folder, and a fleet spec
// resolves for this host, as the agent's own spec does.
func ParseRequestFiles(path string, files []File, mayRead func(path string) bool) (*Spec, hcl.Diagnostics) {
	if mayRead == nil {
		mayRead = func(string) bool { return false }
	}
	return parseThisHost(path, files, mayRead)
}

func parseThisHost(path string, files []File, mayRead func(string) bool) (*Spec, hcl.Diagnostics) {
	f, diags := parseFleet(path, files, mayRead)
	if f == nil {
		return nil, diags
	}
	s, more := f.ForThisHost()
	return s, append(diags, more...)
}
