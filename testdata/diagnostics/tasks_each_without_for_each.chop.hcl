tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["echo", each.key]  # ERROR: Invalid reference
  }
}
