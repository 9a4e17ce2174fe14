# want: 2: Invalid port range name
port_range "Desks" {
  from = 13389
  to   = 13399
}
