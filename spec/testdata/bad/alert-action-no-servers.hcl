# want: 2: Alert action names no server
alert "mem" {
  metric = "host.memory_percent"
  above  = 90
  action = "restart"
}
