# want: Unterminated template string
server "a" {
  image = <<EOF
never ends
