# Every block lucid-rdp.hcl knows, with typical values. `lucid-rdp validate examples/full.hcl`
agent {
  listen      = "127.0.0.1:8090"
  state_dir   = "/var/lib/lucid-rdp"
  resync      = "10s"
  parallelism = 8
}

port_range "desktops" {
  address = "0.0.0.0"
  from    = 13389
  to      = 13399
}

defaults {
  driver        = "process"
  drain_timeout = "15m"
  sessions { max = 4 }
}

server "alice" {
  driver     = "process"
  port_range = "desktops"
  count      = 1
  sessions {
    max                  = 2
    idle_timeout         = "30m"
    disconnected_timeout = "10m"
  }
  security {
    layer       = "tls"
    certificate = "/etc/lucid-rdp/tls/cert.pem"
    key         = "/etc/lucid-rdp/tls/key.pem"
  }
  drain_timeout   = "15m"
  prevent_destroy = false
}

server "pool" {
  port_range = "desktops"
  count      = 3
  security {
    certificate = "tls/pool.pem"
    key         = "tls/pool.key"
  }
}

server "kiosk" {
  driver     = "docker"
  image      = "lucid/xrdp:bookworm"
  port       = 13500
  env        = { TZ = "UTC" }
  users_file = "kiosk.users" # the container's accounts; no password in the spec
  # home = "/srv/lucid-rdp/kiosk/home" # default: the volume lucid-rdp-kiosk-home, kept
  resources {
    cpus   = 1.5
    memory = "2GiB"
  }
}

alert "host_memory" {
  metric          = "host.memory_percent"
  above           = 90
  for             = "1m"
  keep_firing_for = "2m"
  servers         = ["alice*"]
  action          = "notify"
}

notify "alertmanager" {
  url = "http://127.0.0.1:9093"
}
