# want: 5: Invalid severity
alert "load" {
  metric   = "host.load1"
  above    = 8
  severity = "very bad!"
}
