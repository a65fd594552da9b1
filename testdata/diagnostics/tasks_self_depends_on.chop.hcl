tunnel "local" "me" {}
tasks "a" {  # ERROR: Cycle between task lists
  on         = tunnel.local.me
  depends_on = [tasks.a]
  task "ping" "p" {}
}
