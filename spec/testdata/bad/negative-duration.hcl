# want: 5: Invalid duration
server "alice" {
  port = 13500
  sessions {
    idle_timeout = "-5m"
  }
}
