# The agent of pi-2 alone; but a.hcl's agent block applies to every pi-*.

agent {
  hosts     = ["pi-2"]
  state_dir = "/var/lib/lucid-rdp-hall"
}
