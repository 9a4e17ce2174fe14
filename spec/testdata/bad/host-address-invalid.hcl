# want: 3: Invalid address
host "pi-1" {
  address = "10.0.0.5:8090"
}
