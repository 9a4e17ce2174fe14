# want: 3: Invalid token_file
agent {
  token_file = "/nonexistent/lucid-rdp-token"
}
