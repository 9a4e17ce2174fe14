# want: whole number
server "a" {
  count = 1e400
}
