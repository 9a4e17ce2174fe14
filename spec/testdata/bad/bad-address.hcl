# want: 3: Invalid address
port_range "r" {
  address = "my-host"
  from    = 13389
  to      = 13399
}
