# want: 2: Unclosed configuration block
server "alice" {
  port = 13500

