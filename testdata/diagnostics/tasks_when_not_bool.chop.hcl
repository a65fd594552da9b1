tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command = "true"
    when    = "sometimes"  # ERROR: Incorrect attribute value type
  }
}
