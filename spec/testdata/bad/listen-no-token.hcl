# want: 3: Missing token_file
agent {
  listen = "0.0.0.0:8090"
}
