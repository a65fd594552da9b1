tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
}
tasks "a" {  # ERROR: Duplicate task list
  on = tunnel.local.me
}
