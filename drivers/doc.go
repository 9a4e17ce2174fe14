// Package drivers holds the contract between the reconciler and the things that
// run xrdp servers (host processes, Docker containers), and the types they share.
//
// A driver touches only what it owns: containers that carry lucid-rdp's labels,
// processes recorded under state_dir with a matching pid, start time and
// executable. It never acts on anything by name alone.
package drivers
