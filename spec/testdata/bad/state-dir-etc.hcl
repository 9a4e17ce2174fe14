# want: 3: Invalid state_dir
agent {
  state_dir = "/etc"
}
