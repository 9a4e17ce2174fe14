# want: 5: Unknown network
server "kiosk" {
  driver  = "docker"
  image   = "lucid/xrdp:bookworm"
  network = "none"
  port    = 13500
}
