# want: 3: Invalid users file
defaults {
  users_file = "users/no-colon.users"
}

server "kiosk" {
  driver = "docker"
  image  = "lucid/xrdp:bookworm"
  port   = 13500
}
