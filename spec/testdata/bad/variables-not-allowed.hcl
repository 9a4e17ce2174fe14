# want: 3: Variables not allowed
server "alice" {
  port = var.port
}
