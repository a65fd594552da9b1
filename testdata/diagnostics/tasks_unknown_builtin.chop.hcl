tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exex" "e" {  # ERROR: Unknown builtin
    command = "true"
  }
}
