# want: 6: Duplicate server name
server "alice" {
  port = 13500
}

server "alice" {
  port = 13501
}
