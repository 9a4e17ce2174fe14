# want: 7: Overlapping port ranges
port_range "a" {
  from = 13389
  to   = 13399
}

port_range "b" {
  from = 13395
  to   = 13405
}
