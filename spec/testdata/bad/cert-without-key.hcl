# want: 6: Missing key
server "alice" {
  port = 13500
  security {
    layer       = "tls"
    certificate = "cert.pem"
  }
}
