# What every host shares: no hosts attribute.

agent {
  state_dir = ".lucid-rdp"
}

port_range "desktops" {
  from = 13389
  to   = 13399
}

defaults {
  port_range    = "desktops"
  drain_timeout = "10m"
  sessions {
    max = 2
  }
}
