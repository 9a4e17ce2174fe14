# want: Control character in a value
server "a" {
  port = 13500
  security {
    certificate = "/etc/ssl/a.pem\n[Globals]\nport=3389"
    key = "/etc/ssl/a.key"
  }
}
