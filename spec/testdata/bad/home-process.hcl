# want: 5: home is for docker servers
server "desk" {
  driver = "process"
  port   = 13500
  home   = "/srv/desk/home"
}
