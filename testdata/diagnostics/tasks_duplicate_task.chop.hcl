tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "ping" "p" {}
  task "exec" "p" {  # ERROR: Duplicate task
    command = "true"
  }
}
