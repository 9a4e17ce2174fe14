# want: 12: Port inside a port range
port_range "r" {
  from = 13389
  to   = 13399
}

server "desk" {
  port_range = "r"
}

server "alice" {
  port = 13390
}
