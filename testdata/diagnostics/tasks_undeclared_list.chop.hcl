tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["echo", tasks.fatcs.gather]  # ERROR: Reference to undeclared task list
  }
}
