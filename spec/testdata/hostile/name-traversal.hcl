# want: Invalid server name
server "../../victim" {
  port = 13500
}
