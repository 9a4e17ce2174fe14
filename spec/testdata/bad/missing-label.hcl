# want: 2: Missing name for server
server {
  port = 13500
}
