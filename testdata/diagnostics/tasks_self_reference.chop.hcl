tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["echo"]
    when    = task.e.changed  # ERROR: Self-referential task
  }
}
