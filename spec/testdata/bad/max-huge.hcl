# want: 5: Invalid session limit
server "a" {
  port = 13500
  sessions {
    max = 100000
  }
}
