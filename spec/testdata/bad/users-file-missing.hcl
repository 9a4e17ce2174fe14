# want: 6: Cannot read users file
server "kiosk" {
  driver     = "docker"
  image      = "lucid/xrdp:bookworm"
  port       = 13500
  users_file = "users/nobody-wrote-this.users"
}
