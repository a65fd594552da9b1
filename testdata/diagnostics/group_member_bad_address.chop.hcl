tunnel "local" "me" {}
group "web" {
  members = ["tunnel.local.you"]  # ERROR: Invalid group member
}
