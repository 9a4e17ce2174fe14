# want: 15: Duplicate defaults block
# detail: on host pi-2: the defaults blocks at testdata/bad/fleet-two-defaults.hcl:11 and testdata/bad/fleet-two-defaults.hcl:15 both apply
host "pi-1" {
}

host "pi-2" {
  labels = { room = "hall" }
}

# pi-1 takes one defaults block, pi-2 both.
defaults {
  port_range = "desktops"
}

defaults {
  hosts = ["room=hall"]
  sessions {
    max = 1
  }
}

port_range "desktops" {
  from = 13389
  to   = 13399
}
