# want: 3: Invalid listen address
agent {
  listen = "8090"
}
