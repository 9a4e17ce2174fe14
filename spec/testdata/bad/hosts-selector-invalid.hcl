# want: 7: Invalid host selector
host "pi-1" {
  labels = { role = "kiosk" }
}

server "kiosk" {
  hosts = ["pi-1", "role="]
  port  = 13500
}
