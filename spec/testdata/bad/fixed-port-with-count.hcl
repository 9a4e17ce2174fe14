# want: 4: Fixed port with count
server "alice" {
  port  = 13500
  count = 2
}
