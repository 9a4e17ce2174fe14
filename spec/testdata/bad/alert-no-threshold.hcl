# want: 2: Missing threshold
alert "a" {
  metric = "host.cpu_percent"
  action = "drain"
}
