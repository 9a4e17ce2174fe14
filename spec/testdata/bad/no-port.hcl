# want: 2: Missing port
server "alice" {
  driver = "process"
}
