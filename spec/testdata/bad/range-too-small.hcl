# want: 9: Port range too small
port_range "r" {
  from = 13389
  to   = 13390
}

server "desk" {
  port_range = "r"
  count      = 3
}
