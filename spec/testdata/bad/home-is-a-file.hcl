# want: 6: Invalid home
server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
  home   = "users/root.users"
}
