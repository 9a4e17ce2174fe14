# want: 7: Invalid size
server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
  resources {
    memory = "2 gigs"
  }
}
