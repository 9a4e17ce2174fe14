# want: 3: Listen address in a port range
agent {
  listen = ":13550"
}

port_range "r" {
  address = "127.0.0.1"
  from    = 13500
  to      = 13600
}
