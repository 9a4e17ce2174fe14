# want: Invalid character encoding
server "ÿþ" {
  port = 13500
}
