# want: 2: Invalid alert name
alert "Disk/full" {
  metric = "host.cpu_percent"
  above  = 90
  action = "drain"
}
