# want: 19: Duplicate port
# detail: on host pi-2: servers "kiosk" and "hall" both want port 13500
host "pi-1" {
  labels = { role = "kiosk" }
}

host "pi-2" {
  labels = { role = "kiosk" }
}

# Both hosts run the kiosk; pi-2 also the hall display, on the kiosk's port.
server "kiosk" {
  hosts = ["role=kiosk"]
  port  = 13500
}

server "hall" {
  hosts = ["pi-2"]
  port  = 13500
}
