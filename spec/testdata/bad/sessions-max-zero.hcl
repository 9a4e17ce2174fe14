# want: 5: Invalid session limit
server "alice" {
  port = 13500
  sessions {
    max = 0
  }
}
