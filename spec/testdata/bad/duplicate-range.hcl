# want: 7: Duplicate port range name
port_range "r" {
  from = 13389
  to   = 13390
}

port_range "r" {
  from = 14000
  to   = 14001
}
