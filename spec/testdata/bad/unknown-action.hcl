# want: 5: Unknown alert action
alert "a" {
  metric = "host.cpu_percent"
  above  = 80
  action = "reboot"
}
