tunnel "local" "me" {}
group "g" {
  members = tunnel.local.mee  # ERROR: Reference to undeclared tunnel
}
