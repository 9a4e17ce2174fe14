# want: 15: Duplicate server name
# detail: on host pi-2: a server named "desk" is already declared at
host "pi-1" {
}

host "pi-2" {
}

# Fine on pi-1; twice on pi-2.
server "desk" {
  hosts = ["pi-*"]
  port  = 13500
}

server "desk" {
  hosts = ["pi-2"]
  port  = 13501
}
