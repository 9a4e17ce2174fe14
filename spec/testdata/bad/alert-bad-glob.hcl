# want: 5: Invalid server pattern
alert "a" {
  metric  = "server.sessions"
  above   = 3
  servers = ["alice["]
  action  = "drain"
}
