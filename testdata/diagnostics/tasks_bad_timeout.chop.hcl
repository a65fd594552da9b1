tunnel "local" "me" {}
tasks "a" {
  on      = tunnel.local.me
  timeout = "5 minutes"  # ERROR: Invalid duration
  task "exec" "e" {
    command = "true"
    delay   = "soon"  # ERROR: Invalid duration
  }
}
