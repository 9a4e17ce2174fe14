# lucid-rdp's agent as a Nomad system job: one agent on every client node
# that has the binary and a checkout of the fleet repository.
#
#   nomad job run lucid-rdp.nomad.hcl
#
# READ THIS FIRST: with Nomad, run docker servers only (driver = "docker").
# When Nomad stops this task (nomad job stop, a new version of this job, a
# node drain, nomad alloc stop), its client kills every process left in the
# task's cgroup (Nomad 1.7 and later). Process servers (xrdp, xrdp-sesman,
# each user's desktop) are the agent's children and live in that cgroup: they
# would all be killed, with every session on them. Their memory also counts
# against this task's memory limit. Docker servers are dockerd's containers,
# outside the cgroup, and outlive the agent. For process servers, run the
# agent under systemd with KillMode=process instead (examples/systemd).
# README.md beside this file says what Nomad's source does.

job "lucid-rdp" {
  type        = "system" # one allocation on every eligible client node
  datacenters = ["*"]

  # Only nodes meant to serve desktops: `client { meta { lucid_rdp = "true" } }`
  # in their Nomad client config. The agent refuses to start on a node its
  # spec does not declare as a host.
  constraint {
    attribute = "${meta.lucid_rdp}"
    value     = "true"
  }

  # A new version of this job replaces the agent one node at a time (and
  # kills that node's process servers: see above).
  update {
    max_parallel = 1
  }

  group "agent" {
    # A crashed agent comes back; servers and sessions do not depend on it.
    restart {
      attempts = 10
      interval = "30m"
      delay    = "5s"
      mode     = "delay"
    }

    task "agent" {
      # raw_exec: the agent needs the host's view (the Docker socket, the
      # servers' network namespaces and processes for their sessions), not an
      # isolated one. The driver is off by default: enable it in the client
      # config with plugin "raw_exec" { config { enabled = true } }.
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/lucid-rdp"
        # The node's checkout of the fleet repository, kept current by
        # examples/systemd/lucid-rdp-pull.timer (or any other pull). The agent
        # watches the folder and converges by itself.
        args = ["agent", "-config", "/etc/lucid-rdp/fleet", "-log-json"]
      }

      env {
        # Which host of the fleet spec this node is. Its host block must be
        # named as Nomad names the node (in lowercase).
        LUCID_RDP_HOST = "${node.unique.name}"
      }

      # SIGTERM stops the agent alone; it never stops servers itself.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 200 # MHz
        memory = 256 # MiB: a limit, on raw_exec too (its cgroup)
      }
    }
  }
}
