tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "facts" "gather" {}
  task "exec" "e" {
    command = ["echo", jsonencode(tasks.t.gather)]  # ERROR: Invalid reference
  }
}
