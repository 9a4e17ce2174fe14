# want: more than 1000 servers
server "a" {
  count = 9223372036854775807
  port  = 13500
}
