# want: 16: Unknown port range
# detail: on host pi-1: server "desk" draws from port_range "desktops", which is not declared
host "lab-1" {
}

host "pi-1" {
}

port_range "desktops" {
  hosts = ["lab-*"]
  from  = 13389
  to    = 13399
}

server "desk" {
  port_range = "desktops"
}
