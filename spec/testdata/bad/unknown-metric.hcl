# want: 3: Unknown alert metric
alert "a" {
  metric = "host.temperature"
  above  = 80
  action = "drain"
}
