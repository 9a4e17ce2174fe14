# want: 4: Invalid environment variable name
server "alice" {
  port = 13500
  env  = { "1BAD" = "x" }
}
