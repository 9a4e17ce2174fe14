# want: 3: Unknown port range
server "alice" {
  port_range = "nope"
}
