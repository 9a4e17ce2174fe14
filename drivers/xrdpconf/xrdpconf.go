// Package xrdpconf renders the xrdp.ini and sesman.ini lucid-rdp gives an xrdp
// server, from the spec's restart-relevant config. Settings lucid-rdp does not
// manage keep Debian's defaults for xrdp 0.9.21.
package xrdpconf

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// ListenURL renders address and port the way xrdp 0.9's `port` setting takes them.
func ListenURL(address string, port int) string {
	ip := net.ParseIP(address)
	if ip != nil && ip.To4() == nil {
		return fmt.Sprintf("tcp6://[%s]:%d", address, port)
	}
	return fmt.Sprintf("tcp://%s:%d", address, port)
}

// XrdpINI returns the xrdp.ini for server name listening on listen (as
// ListenURL renders it), with the security of c, logging to logFile.
// certificate and key are the paths xrdp will see (inside a container they differ
// from the host's).
func XrdpINI(name, listen string, c drivers.Config, certificate, key, logFile string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("; Rendered by lucid-rdp for server %q. lucid-rdp rewrites this file: edit lucid-rdp.hcl instead.", name)
	w("[Globals]")
	w("ini_version=1")
	w("fork=true")
	w("port=%s", listen)
	w("use_vsock=false")
	w("tcp_nodelay=true")
	w("tcp_keepalive=true")
	w("security_layer=%s", c.SecurityLayer)
	w("crypt_level=high")
	w("certificate=%s", certificate)
	w("key_file=%s", key)
	w("ssl_protocols=TLSv1.2, TLSv1.3")
	w("autorun=")
	w("allow_channels=true")
	w("allow_multimon=true")
	w("bitmap_cache=true")
	w("bitmap_compression=true")
	w("bulk_compression=true")
	w("max_bpp=32")
	w("new_cursors=true")
	w("use_fastpath=both")
	w("blue=009cb5")
	w("grey=dedede")
	w("ls_top_window_bg_color=009cb5")
	w("ls_width=350")
	w("ls_height=430")
	w("ls_bg_color=dedede")
	w("ls_logo_filename=")
	w("ls_logo_x_pos=55")
	w("ls_logo_y_pos=50")
	w("ls_label_x_pos=30")
	w("ls_label_width=65")
	w("ls_input_x_pos=110")
	w("ls_input_width=210")
	w("ls_input_y_pos=220")
	w("ls_btn_ok_x_pos=142")
	w("ls_btn_ok_y_pos=370")
	w("ls_btn_ok_width=85")
	w("ls_btn_ok_height=30")
	w("ls_btn_cancel_x_pos=237")
	w("ls_btn_cancel_y_pos=370")
	w("ls_btn_cancel_width=85")
	w("ls_btn_cancel_height=30")
	w("")
	w("[Logging]")
	w("LogFile=%s", logFile)
	w("LogLevel=INFO")
	w("EnableSyslog=false")
	w("")
	w("[Channels]")
	for _, ch := range []string{"rdpdr", "rdpsnd", "drdynvc", "cliprdr", "rail", "xrdpvr", "tcutils"} {
		w("%s=true", ch)
	}
	w("")
	w("[Xorg]")
	w("name=Xorg")
	w("lib=libxup.so")
	w("username=ask")
	w("password=ask")
	w("ip=127.0.0.1")
	w("port=-1")
	w("code=20")
	w("")
	w("[Xvnc]")
	w("name=Xvnc")
	w("lib=libvnc.so")
	w("username=ask")
	w("password=ask")
	w("ip=127.0.0.1")
	w("port=-1")
	return []byte(b.String())
}

// Sesman is what lucid-rdp sets in one server's sesman.ini.
type Sesman struct {
	// ListenPort is sesman's loopback port; xrdp finds it in the sesman.ini at
	// the compiled-in path /etc/xrdp/sesman.ini.
	ListenPort int
	// DisplayOffset is the first X display sesman may use; it uses up to
	// DisplayOffset + MaxSessions.
	DisplayOffset int
	// MaxSessions is the most sessions sesman creates (reconnects pass).
	MaxSessions int
	// DisconnectedTimeout ends a disconnected session after this long; 0 means never.
	DisconnectedTimeout time.Duration
	// LogFile is where sesman logs.
	LogFile string
}

// INI renders s as a sesman.ini for server name.
func (s Sesman) INI(name string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	disconnected := int(s.DisconnectedTimeout.Seconds())
	w("; Rendered by lucid-rdp for server %q. lucid-rdp rewrites this file: edit lucid-rdp.hcl instead.", name)
	w("[Globals]")
	w("ListenAddress=127.0.0.1")
	w("ListenPort=%d", s.ListenPort)
	w("EnableUserWindowManager=true")
	w("UserWindowManager=startwm.sh")
	w("DefaultWindowManager=startwm.sh")
	w("ReconnectScript=reconnectwm.sh")
	w("")
	w("[Security]")
	w("AllowRootLogin=false")
	w("MaxLoginRetry=4")
	w("TerminalServerUsers=tsusers")
	w("TerminalServerAdmins=tsadmins")
	w("AlwaysGroupCheck=false")
	w("")
	w("[Sessions]")
	w("X11DisplayOffset=%d", s.DisplayOffset)
	w("MaxSessions=%d", max(s.MaxSessions, 1)) // 0 would deny every login
	w("KillDisconnected=%v", disconnected > 0)
	w("DisconnectedTimeLimit=%d", disconnected)
	// idle_timeout is lucid-rdp's to enforce (the agent closes an idle
	// connection): xorgxrdp would read a limit here once per session, at its
	// start, so an edit could never reach live sessions.
	w("IdleTimeLimit=0")
	w("Policy=Default")
	w("")
	w("[Logging]")
	w("LogFile=%s", s.LogFile)
	w("LogLevel=INFO")
	w("EnableSyslog=false")
	w("")
	w("[Xorg]")
	for _, p := range []string{"/usr/lib/xorg/Xorg", "-config", "xrdp/xorg.conf", "-noreset", "-nolisten", "tcp", "-logfile", ".xorgxrdp.%s.log"} {
		w("param=%s", p)
	}
	w("")
	w("[Xvnc]")
	for _, p := range []string{"Xvnc", "-bs", "-nolisten", "tcp", "-localhost", "-dpi", "96"} {
		w("param=%s", p)
	}
	w("")
	w("[Chansrv]")
	w("FuseMountName=thinclient_drives")
	w("FileUmask=077")
	return []byte(b.String())
}
