tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = uppercase("true")  # ERROR: Call to unknown function
  }
}
