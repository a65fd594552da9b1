tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = "uname -r"
  }
  task "exec" "f" {
    command = ["echo", task.e.stdot]  # ERROR: Unsupported attribute
  }
}
