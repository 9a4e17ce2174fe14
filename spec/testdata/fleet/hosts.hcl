# The hosts of this fleet: a desk server in the lab and two kiosk Pis.

host "lab-1" {
  labels  = { role = "desk", room = "lab-2" }
  address = "http://10.0.0.11:8090"
}

host "pi-1" {
  labels  = { role = "kiosk", room = "lab-2" }
  address = "http://10.0.0.21:8090"
}

host "pi-2" {
  labels     = { role = "kiosk", room = "hall" }
  address    = "http://10.0.0.22:8090"
  token_file = "tokens/pi-2"
}
