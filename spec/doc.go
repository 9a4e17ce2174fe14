// Package spec owns the lucid-rdp.hcl language: its schema, decoding, defaults,
// count expansion, validation and formatting.
//
// A spec is read in three steps, each of which reports problems as
// hcl.Diagnostics with a source range, never as a bare string:
//
//  1. Parse: HCL syntax (hclsyntax).
//  2. Decode: the block and attribute schema (gohcl) into the raw block types of
//     schema.go. Unknown blocks and attributes and wrong types stop here.
//  3. Build and validate: defaults are inherited, `count` is expanded into
//     NAME-1 … NAME-N, durations and sizes are parsed, relative paths are resolved
//     against the spec's folder, and every rule of DESIGN.md is checked
//     (validate.go). The result is a Spec: plain, typed, ready for the planner.
//
// A spec with any error-severity diagnostic is never returned: callers get nil and
// the diagnostics, so a broken file can never be mistaken for "zero servers".
//
// This package does no I/O beyond reading the file it is asked to load. It knows
// nothing of drivers, hosts or the live state: the reconciler owns those.
package spec
