# want: 6: Invalid duration
alert "sessions" {
  metric   = "server.sessions"
  above    = 4
  action   = "evict_idle"
  cooldown = "soon"
}
