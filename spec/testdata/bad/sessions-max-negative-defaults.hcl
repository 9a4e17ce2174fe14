# want: 4: Invalid session limit
defaults {
  sessions {
    max = -1
  }
}

server "alice" {
  port = 13500
}
