# want: 3: Invalid duration
agent {
  resync = "1ns"
}
