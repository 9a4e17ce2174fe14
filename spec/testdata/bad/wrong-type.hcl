# want: 3: Unsuitable value type
server "alice" {
  port = "thirteen"
}
