tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = "true"
  }
  task "exec" "f" {
    command = "true"
    retries = task.e.rc  # ERROR: Invalid reference
  }
}
