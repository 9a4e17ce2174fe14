# want: 8: Duplicate alert name
alert "a" {
  metric = "host.cpu_percent"
  above  = 90
  action = "drain"
}

alert "a" {
  metric = "host.cpu_percent"
  above  = 95
  action = "drain"
}
