# want: 4: users_file is for docker servers
server "desk" {
  port       = 13500
  users_file = "users/duplicate.users"
}
