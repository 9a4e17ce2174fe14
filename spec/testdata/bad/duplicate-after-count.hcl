# want: 11: Duplicate server name
port_range "r" {
  from = 13389
  to   = 13399
}

server "desk-2" {
  port_range = "r"
}

server "desk" {
  count      = 3
  port_range = "r"
}
