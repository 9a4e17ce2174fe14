# want: 3: Missing token_file
agent {
  listen = ":8090"
}
