# want: 3: Too many servers
server "big" {
  count      = 9223372036854775807
  port_range = "r"
}

port_range "r" {
  from = 20000
  to   = 20010
}
