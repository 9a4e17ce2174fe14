# A kiosk on every host labelled role = "kiosk", and one more on pi-2 alone.

server "kiosk" {
  hosts = ["role=kiosk"]
  sessions {
    max = 1
  }
}

server "hall-display" {
  hosts = ["pi-2"]
  port  = 13500
}

notify "ops" {
  hosts = ["pi-*"]
  type  = "webhook"
  url   = "http://10.0.0.2:9000/hook"
}

alert "pi-memory" {
  hosts  = ["pi-*"]
  metric = "host.memory_percent"
  above  = 90
  for    = "1m"
}
