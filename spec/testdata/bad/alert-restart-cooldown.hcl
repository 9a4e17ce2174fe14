# want: 6: Cooldown too short
alert "mem" {
  metric   = "server.memory_bytes"
  above    = 1000000000
  action   = "restart"
  cooldown = "0"
}
