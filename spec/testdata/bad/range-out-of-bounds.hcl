# want: 4: Invalid port
port_range "r" {
  from = 65530
  to   = 65536
}
