# want: 7: Duplicate port
server "alice" {
  port = 13500
}

server "bob" {
  port = 13500
}
