# want: 4: Invalid duration
server "alice" {
  port          = 13500
  drain_timeout = "15 minutes"
}
