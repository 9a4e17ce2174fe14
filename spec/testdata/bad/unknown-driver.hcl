# want: 3: Unknown driver
server "alice" {
  driver = "podman"
  port   = 13500
}
