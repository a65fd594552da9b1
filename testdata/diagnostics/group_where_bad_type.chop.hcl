tunnel "local" "me" {}
group "g" {
  members = tunnel.local.me
  where   = "yes please"  # ERROR: Invalid where condition
}
