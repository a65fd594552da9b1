tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["echo", self.rc]  # ERROR: Invalid reference
  }
}
