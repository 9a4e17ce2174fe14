# want: 3: Invalid users file
defaults {
  users_file = "users/duplicate.users"
}

server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
}
