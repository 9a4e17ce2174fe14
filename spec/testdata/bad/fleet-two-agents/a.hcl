# want: b.hcl:3: Duplicate agent block
# detail: on host pi-2: the agent blocks at testdata/bad/fleet-two-agents/a.hcl:9 and testdata/bad/fleet-two-agents/b.hcl:3 both apply
host "pi-1" {
}

host "pi-2" {
}

agent {
  hosts     = ["pi-*"]
  state_dir = "/var/lib/lucid-rdp-pi"
}
