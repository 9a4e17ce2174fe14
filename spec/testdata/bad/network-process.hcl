# want: 3: network is for docker servers
server "desk" {
  network = "host"
  port    = 13500
}
