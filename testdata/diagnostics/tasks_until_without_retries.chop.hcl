tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = "true"
    until   = self.rc == 0  # WARNING: until without retries
  }
}
