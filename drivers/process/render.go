package process

import (
	"fmt"
	"net"
	"strings"

	"github.com/lucid-rdp/lucid-rdp/drivers"
)

// listenURL renders address and port the way xrdp 0.9's `port` setting takes them.
func listenURL(address string, port int) string {
	ip := net.ParseIP(address)
	if ip != nil && ip.To4() == nil {
		return fmt.Sprintf("tcp6://[%s]:%d", address, port)
	}
	return fmt.Sprintf("tcp://%s:%d", address, port)
}

// renderXrdpINI returns the xrdp.ini for one listener. Settings lucid-rdp does
// not manage keep Debian's defaults for xrdp 0.9.21.
func renderXrdpINI(name string, c drivers.Config, logFile string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("; Rendered by lucid-rdp for server %q. lucid-rdp rewrites this file: edit lucid-rdp.hcl instead.", name)
	w("[Globals]")
	w("ini_version=1")
	w("fork=true")
	w("port=%s", listenURL(c.Address, c.Port))
	w("use_vsock=false")
	w("tcp_nodelay=true")
	w("tcp_keepalive=true")
	w("security_layer=%s", c.SecurityLayer)
	w("crypt_level=high")
	w("certificate=%s", c.Certificate)
	w("key_file=%s", c.Key)
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
