# want: 9: Invalid count
port_range "r" {
  from = 13389
  to   = 13399
}

server "desk" {
  port_range = "r"
  count      = -1
}
