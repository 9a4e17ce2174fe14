# want: Invalid image
server "a" {
  driver = "docker"
  image = "--privileged"
  port = 13500
}
