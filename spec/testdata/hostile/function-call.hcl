# want: Function calls not allowed
server "a" {
  port = abs(-13500)
}
