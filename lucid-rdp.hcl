# The spec `make run` converges: two xrdp listeners on loopback, run as host
# processes. Edit it and run `make run` again, or see README.md for every setting.

agent {
  listen    = "127.0.0.1:8090"
  state_dir = ".lucid-rdp" # relative to this file; kept out of Git
  resync    = "10s"
}

port_range "desktops" {
  address = "127.0.0.1"
  from    = 13389
  to      = 13399
}

defaults {
  driver        = "process"
  port_range    = "desktops"
  drain_timeout = "15m"
}

server "desk" {
  count = 2 # desk-1 and desk-2
  sessions {
    max          = 2
    idle_timeout = "30m"
  }
}

# Under memory pressure, end sessions that have sat idle, on these servers only.
alert "host-memory" {
  metric          = "host.memory_percent"
  above           = 90
  for             = "1m"
  keep_firing_for = "2m"
  servers         = ["desk-*"]
  action          = "evict_idle"
}
