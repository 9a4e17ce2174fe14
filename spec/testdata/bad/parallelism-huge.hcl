# want: 3: Invalid parallelism
agent {
  parallelism = 100000
}
