# want: 2: Invalid server name
server "../etc" {
  port = 13500
}
