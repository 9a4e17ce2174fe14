# want: 3: Invalid label name
host "pi-1" {
  labels = { "room-no" = "2" }
}
