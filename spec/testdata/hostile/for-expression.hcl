# want: Missing image
server "a" {
  command = [for i in [1, 2, 3]: "${i}${i}${i}"]
  port = 13500
  driver = "docker"
}
