tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "first" {
    command = ["echo"]
    when    = task.second.changed  # ERROR: Reference to a later task
  }
  task "exec" "second" {
    command = ["echo"]
  }
}
