# want: 2: Missing image
server "kiosk" {
  driver = "docker"
  port   = 13500
}
