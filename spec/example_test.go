package spec_test

import (
	"fmt"
	"os"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

func ExampleParse() {
	src := []byte(`
port_range "desktops" {
  from = 13389
  to   = 13399
}

defaults {
  port_range = "desktops"
  sessions { max = 4 }
}

server "desk" {
  count = 2
}

server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
}
`)
	s, diags := spec.Parse("lucid-rdp.hcl", src)
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	for _, srv := range s.Servers {
		fmt.Printf("%s: driver=%s address=%s range=%q port=%d max=%d\n",
			srv.Name, srv.Driver, srv.Address, srv.PortRange, srv.Port, srv.Sessions.Max)
	}
	// Output:
	// desk-1: driver=process address=127.0.0.1 range="desktops" port=0 max=4
	// desk-2: driver=process address=127.0.0.1 range="desktops" port=0 max=4
	// kiosk: driver=docker address=127.0.0.1 range="" port=13500 max=4
}

func ExampleWriteDiagnostics() {
	src := []byte("server \"alice\" {\n  port = 13500\n  sessions {\n    max = 0\n  }\n}\n")
	_, diags := spec.Parse("lucid-rdp.hcl", src)
	_ = spec.WriteDiagnostics(os.Stdout, diags, map[string][]byte{"lucid-rdp.hcl": src}, 80, false)
	// Output:
	// lucid-rdp.hcl:4:11: error: Invalid session limit
	//  4 |     max = 0
	//    |           ^
	//   sessions.max = 0; it must be at least 1 (xrdp reads 0 as "deny every login").
	//   Remove the server to stop serving.
}

func ExampleParseSize() {
	n, _ := spec.ParseSize("2GiB")
	fmt.Println(n, spec.FormatSize(n))
	// Output: 2147483648 2GiB
}

func ExampleFormat() {
	out, _ := spec.Format("x.hcl", []byte("server \"a\" {\nport=13500\n  driver =   \"process\"\n}\n"))
	fmt.Print(string(out))
	// Output:
	// server "a" {
	//   port   = 13500
	//   driver = "process"
	// }
}
