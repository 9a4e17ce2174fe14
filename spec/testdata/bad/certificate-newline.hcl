# want: 2: Control character in a value
server "a" {
  port = 13500
  security {
    certificate = "/etc/x.pem\nport=1"
    key         = "/etc/x.key"
  }
}
