# want: 4: Unsupported argument
server "alice" {
  port    = 13500
  colour  = "blue"
}
