tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "first" {
    command = ["echo"]
  }
  task "exec" "second" {
    command = ["echo"]
    when    = task.frist.changed  # ERROR: Reference to undeclared task
  }
}
