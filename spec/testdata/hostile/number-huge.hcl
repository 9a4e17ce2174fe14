# want: whole number
server "a" {
  port = 1e999999999
}
