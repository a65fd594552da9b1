tunnel "local" "me" {}
tasks "facts" {
  on = tunnel.local.me
  task "facts" "gather" {}
}
tasks "t" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["echo", tasks.facts.gahter]  # ERROR: Reference to undeclared task
  }
}
