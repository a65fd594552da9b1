tunnel "local" "me" {}
tasks "a" {
  on    = tunnel.local.me
  batch = "150%"  # ERROR: Invalid batch
}
tasks "b" {
  on    = tunnel.local.me
  batch = [0]  # ERROR: Invalid batch
}
