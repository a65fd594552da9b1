tunnel "local" "me" {}
tasks "a" {
  on         = tunnel.local.me
  depends_on = [tasks.migrat]  # ERROR: Reference to undeclared task list
  task "ping" "p" {}
}
tasks "migrate" {
  on = tunnel.local.me
  task "ping" "p" {}
}
