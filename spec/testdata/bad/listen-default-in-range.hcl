# want: 2: Listen address in a port range
port_range "r" {
  from = 8085
  to   = 8095
}
