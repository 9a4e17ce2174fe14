# want: 2: Invalid server name
server "Alice" {
  port = 13500
}
