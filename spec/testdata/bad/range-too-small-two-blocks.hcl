# want: 12: Port range too small
port_range "r" {
  from = 13389
  to   = 13389
}

server "a" {
  port_range = "r"
}

server "b" {
  port_range = "r"
}
