# want: 2: Unsupported block type
servers "alice" {
  port = 13500
}
