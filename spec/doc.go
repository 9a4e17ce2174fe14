// Package spec owns the lucid-rdp.hcl language: its schema, decoding, defaults,
// count expansion, validation and formatting, and the fleet: which blocks of a
// spec apply to which host.
//
// A spec is one file, or a folder whose *.hcl files are read together as one
// (ReadFiles: by name, not recursive, hidden and editor temporary files left
// out). It is read in four steps, each of which reports problems as
// hcl.Diagnostics with a source range (the real file and line), never as a bare
// string:
//
//  1. Parse: HCL syntax (hclsyntax), file by file.
//  2. Decode: the block and attribute schema (gohcl) into the raw block types of
//     schema.go. Unknown blocks and attributes and wrong types stop here.
//  3. Hosts (fleet.go): `host` blocks declare the hosts of a fleet, and any
//     other block may say which of them it applies to with `hosts = [...]`
//     (host-name globs and KEY=VALUE label selectors). The result is a Fleet.
//     A spec without host blocks is a one-host spec, as before fleets.
//  4. Resolve, build and validate, for one host (Fleet.For): the blocks that
//     apply to it are selected, defaults are inherited, `count` is expanded
//     into NAME-1 … NAME-N, durations and sizes are parsed, relative paths are
//     resolved against the spec's folder, and every rule of DESIGN.md is
//     checked (validate.go), its diagnostics saying "on host NAME". The result
//     is a Spec: plain, typed, ready for the planner. Load and Parse resolve
//     this machine's host (ThisHost: $LUCID_RDP_HOST, else the host name); a
//     host a fleet spec does not declare is an error.
//
// A spec with any error-severity diagnostic is never returned: callers get nil and
// the diagnostics, so a broken file, or a host left out of a fleet, can never be
// mistaken for "zero servers".
//
// This package does no I/O beyond reading the files it is asked to load (and
// this machine's host name). It knows nothing of drivers or the live state: the
// reconciler owns those.
package spec
