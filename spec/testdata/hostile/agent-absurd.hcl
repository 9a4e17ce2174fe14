# want: Invalid duration
agent {
  resync = "1ns"
  parallelism = 9223372036854775807
}
