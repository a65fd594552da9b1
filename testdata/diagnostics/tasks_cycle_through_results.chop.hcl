tunnel "local" "me" {}
tasks "a" {  # ERROR: Cycle between task lists
  on = tunnel.local.me
  task "exec" "x" {
    command = ["echo", jsonencode(tasks.b.y)]
  }
}
tasks "b" {
  on = tunnel.local.me
  task "exec" "y" {
    command = ["echo", jsonencode(tasks.a.x)]
  }
}
