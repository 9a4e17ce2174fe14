# want: 4: No host blocks
server "desk" {
  port  = 13500
  hosts = ["pi-*"]
}
