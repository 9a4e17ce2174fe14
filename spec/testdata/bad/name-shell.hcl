# want: 2: Invalid server name
server "$(reboot)" {
  port = 13500
}
