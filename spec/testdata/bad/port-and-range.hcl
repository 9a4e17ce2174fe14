# want: 8: Conflicting port settings
port_range "r" {
  from = 13389
  to   = 13399
}

server "alice" {
  port       = 13500
  port_range = "r"
}
