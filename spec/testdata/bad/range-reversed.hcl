# want: 4: Invalid port range
port_range "r" {
  from = 13399
  to   = 13389
}
