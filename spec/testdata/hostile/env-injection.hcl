# want: Invalid environment variable name
server "a" {
  driver = "docker"
  image = "lucid/xrdp:bookworm"
  port = 13500
  env = {
    "A=B\nC" = "x"
  }
}
