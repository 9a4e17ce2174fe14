# want: 5: Unknown security layer
server "alice" {
  port = 13500
  security {
    layer = "ssl"
  }
}
