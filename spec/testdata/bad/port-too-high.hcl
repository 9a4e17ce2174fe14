# want: 3: Invalid port
server "alice" {
  port = 70000
}
