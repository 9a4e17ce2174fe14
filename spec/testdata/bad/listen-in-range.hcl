# want: 3: Listen address in a port range
agent {
  listen = "127.0.0.1:13390"
}

port_range "r" {
  from = 13389
  to   = 13399
}
