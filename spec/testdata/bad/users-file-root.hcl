# want: 3: Invalid users file
defaults {
  users_file = "users/root.users"
}

server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
}
