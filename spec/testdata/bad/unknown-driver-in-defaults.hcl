# want: 3: Unknown driver
defaults {
  driver = "lxc"
}

server "alice" {
  port = 13500
}
