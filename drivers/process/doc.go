// Package process runs xrdp listeners as host processes, one per server.
//
// For each server it owns a folder, state_dir/servers/NAME/, holding the
// rendered xrdp.ini, xrdp's log, and record.json: the listener's pid, start
// time and executable, its port, config hash and settings, written atomically
// (temp file, fsync, rename). A pid is acted on only while all three of pid,
// start time and executable still match: pids are reused.
//
// Listeners run in their own session (setsid), so they outlive the lucid-rdp
// command that started them. xrdp forks one child per connection and the child
// keeps running when the listener goes: stopping a listener drains it, it never
// ends a live session.
//
// xrdp 0.9 refuses to start while /run/xrdp/xrdp.pid exists, which it does
// whenever Debian's own xrdp service runs. As root, each listener therefore
// starts in a private mount namespace whose /run/xrdp is its own folder, with
// the host's /run/xrdp/sockdir bound back in so sessions still reach sesman's X
// servers. Without root that is not possible, and a server fails with a message
// that says so when the pid file is present.
//
// The package must not act on processes it has no record for, and never finds
// processes by name.
package process
