# want: 7: Invalid CPU limit
server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
  resources {
    cpus = 0
  }
}
