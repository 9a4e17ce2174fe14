# want: 2: Invalid server name
server "a b" {
  port = 13500
}
