# want: 5: Conflicting thresholds
alert "a" {
  metric = "host.cpu_percent"
  above  = 80
  below  = 10
  action = "drain"
}
