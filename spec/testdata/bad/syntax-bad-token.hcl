# want: 3: Invalid expression
server "alice" {
  port = = 13500
}
