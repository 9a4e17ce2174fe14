// Package integration holds tests that run lucid-rdp against the real parts:
// xrdp from Debian's package, a real Docker Engine, and a real RDP client
// (xfreerdp under Xvfb). They skip on a developer machine that lacks a part, and
// fail under CI=true, where every part must be present.
package integration
