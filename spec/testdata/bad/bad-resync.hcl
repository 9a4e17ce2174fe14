# want: 3: Invalid duration
agent {
  resync = "often"
}
